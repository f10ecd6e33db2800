/* Preset resolution: provider = NAME fills what the account leaves unset. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "providers.h"
#include "tap.h"

static char dir[] = "/tmp/relaymail-providers-XXXXXX";

static bool resolve(const char *body, struct config *cfg, struct account *acct, struct result *r)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/conf", dir);
	f = fopen(path, "w");
	fprintf(f, "[account a]\n%s", body);
	fclose(f);
	chmod(path, 0600);
	config_init(cfg);
	return config_load_file(cfg, path, true, r) && config_account_resolve(cfg, "a", acct, r);
}

struct row {
	const char *config;
	const char *host;
	unsigned port;
	enum tls_mode tls;
	const char *user;
};

static const struct row rows[] = {
	{ "provider = sendgrid\n", "smtp.sendgrid.net", 587, TLS_MODE_STARTTLS, "apikey" },
	{ "provider = ses\n", "email-smtp.us-east-1.amazonaws.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = ses\nregion = eu-west-1\n", "email-smtp.eu-west-1.amazonaws.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = mailgun\n", "smtp.mailgun.org", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = mailgun\nregion = eu\n", "smtp.eu.mailgun.org", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = postmark\n", "smtp.postmarkapp.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = brevo\n", "smtp-relay.brevo.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = gmail\n", "smtp.gmail.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = office365\n", "smtp.office365.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = fastmail\n", "smtp.fastmail.com", 465, TLS_MODE_IMPLICIT, NULL },
	{ "provider = zoho\n", "smtp.zoho.com", 465, TLS_MODE_IMPLICIT, NULL },
	{ "provider = zoho\nregion = eu\n", "smtp.zoho.eu", 465, TLS_MODE_IMPLICIT, NULL },
	/* Explicit keys win over the preset. */
	{ "provider = sendgrid\nport = 465\n", "smtp.sendgrid.net", 465, TLS_MODE_IMPLICIT, "apikey" },
	{ "provider = sendgrid\nuser = other\n", "smtp.sendgrid.net", 587, TLS_MODE_STARTTLS, "other" },
	{ "provider = gmail\nhost = localhost\n", "localhost", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = fastmail\ntls = starttls\n", "smtp.fastmail.com", 587, TLS_MODE_STARTTLS, NULL },
	{ "provider = SendGrid\n", "smtp.sendgrid.net", 587, TLS_MODE_STARTTLS, "apikey" },
};

int main(void)
{
	struct config cfg;
	struct account acct;
	struct result r;
	char name[160];

	if (mkdtemp(dir) == NULL)
		return 99;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *row = &rows[i];
		bool ok = resolve(row->config, &cfg, &acct, &r);

		snprintf(name, sizeof name, "preset %zu resolves", i);
		tap_ok(ok, name);
		if (ok) {
			snprintf(name, sizeof name, "preset %zu host", i);
			tap_is_str(acct.host, row->host, name);
			snprintf(name, sizeof name, "preset %zu port", i);
			tap_is_int(acct.port, row->port, name);
			snprintf(name, sizeof name, "preset %zu tls", i);
			tap_is_int(acct.tls, row->tls, name);
			snprintf(name, sizeof name, "preset %zu user", i);
			tap_is_str(acct.user, row->user, name);
		}
		config_free(&cfg);
	}
	tap_ok(!resolve("provider = nosuch\n", &cfg, &acct, &r) && strstr(r.msg, "unknown provider"),
	       "unknown provider is a config error");
	tap_ok(strstr(r.msg, "conf:2") != NULL, "unknown provider error names file:line");
	config_free(&cfg);
	tap_ok(!resolve("provider = mailgun\nregion = asia\n", &cfg, &acct, &r), "bad mailgun region refused");
	config_free(&cfg);
	tap_ok(!resolve("provider = ses\nregion = ../x\n", &cfg, &acct, &r), "region with odd characters refused");
	config_free(&cfg);

	/* Hints. */
	resolve("provider = sendgrid\nuser = bob\n", &cfg, &acct, &r);
	tap_ok(providers_hint(&acct, "AUTH: the server replied: 535 Authentication failed") != NULL &&
	       strstr(providers_hint(&acct, "535 x"), "apikey"), "SendGrid 535 with another user: apikey hint");
	config_free(&cfg);
	resolve("provider = sendgrid\n", &cfg, &acct, &r);
	tap_ok(providers_hint(&acct, "535 Authentication failed") == NULL, "SendGrid 535 with user apikey: no user hint");
	config_free(&cfg);
	resolve("provider = ses\n", &cfg, &acct, &r);
	tap_ok(providers_hint(&acct, "554 Message rejected: Email address is not verified.") != NULL,
	       "SES unverified sender: hint");
	config_free(&cfg);
	resolve("host = smtp.gmail.com\n", &cfg, &acct, &r);
	tap_ok(providers_hint(&acct, "534-5.7.9 Application-specific password required") != NULL,
	       "Gmail 5.7.9 recognised from the host name: hint");
	config_free(&cfg);
	resolve("provider = office365\n", &cfg, &acct, &r);
	tap_ok(providers_hint(&acct, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled") != NULL,
	       "Microsoft 365 5.7.139: hint");
	config_free(&cfg);
	resolve("host = relay.example.com\n", &cfg, &acct, &r);
	tap_ok(providers_hint(&acct, "550 5.7.1 Sender address not allowed") != NULL, "550 sender not allowed: generic hint");
	tap_ok(providers_hint(&acct, "451 4.3.0 try later") == NULL, "no hint for an ordinary failure");
	config_free(&cfg);
	/* The ports --check tries when 587 and 465 are blocked. */
	{
		static const struct { const char *config; unsigned n, first, second; } alt[] = {
			{ "provider = sendgrid\n", 2, 2525, 25 },
			{ "provider = ses\nregion = eu-west-1\n", 2, 2587, 25 },
			{ "provider = mailgun\n", 2, 2525, 25 },
			{ "host = smtp.sendgrid.net\n", 2, 2525, 25 },        /* a known host */
			{ "host = email-smtp.eu-central-1.amazonaws.com\n", 2, 2587, 25 },
			{ "host = relay.example.com\n", 0, 0, 0 },
			{ "provider = gmail\n", 0, 0, 0 },
		};
		unsigned ports[4];

		for (size_t i = 0; i < sizeof alt / sizeof alt[0]; i++) {
			size_t n;

			resolve(alt[i].config, &cfg, &acct, &r);
			n = providers_alt_ports(&acct, ports, 4);
			snprintf(name, sizeof name, "alternate ports %zu: how many", i);
			tap_is_int((int)n, (int)alt[i].n, name);
			if (n == 2) {
				snprintf(name, sizeof name, "alternate ports %zu: in order", i);
				tap_ok(ports[0] == alt[i].first && ports[1] == alt[i].second, name);
			}
			config_free(&cfg);
		}
		resolve("provider = sendgrid\n", &cfg, &acct, &r);
		tap_is_int((int)providers_alt_ports(&acct, ports, 1), 1, "alternate ports: at most max");
		config_free(&cfg);
	}
	snprintf(name, sizeof name, "%s/conf", dir);
	unlink(name);
	rmdir(dir);
	return tap_done();
}
