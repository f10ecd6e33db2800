#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "providers.h"

struct preset {
	const char *name;
	const char *host;               /* "%s" is replaced by the region */
	const char *default_region;
	unsigned port;
	enum tls_mode tls;
	const char *user;               /* fixed user name, or NULL */
	const char *spf;                /* the include: a sender domain's SPF needs */
	unsigned alt_ports[3];          /* other ports it documents, for --check; 0 ends */
};

static const struct preset presets[] = {
	/* https://www.twilio.com/docs/sendgrid/for-developers/sending-email/integrating-with-the-smtp-api
	 * smtp.sendgrid.net, 587 STARTTLS (465 for TLS), user name "apikey";
	 * "SMTP ports": "For an unencrypted or a TLS connection, use port 25,
	 * 2525, or 587". */
	{ "sendgrid", "smtp.sendgrid.net", NULL, 587, TLS_MODE_STARTTLS, "apikey", "sendgrid.net", { 2525, 25 } },
	/* https://docs.aws.amazon.com/ses/latest/dg/smtp-connect.html
	 * email-smtp.<region>.amazonaws.com, STARTTLS on 587, SMTP credentials;
	 * STARTTLS "on port 25, 587, or 2587" (TLS Wrapper on 465 or 2465). */
	{ "ses", "email-smtp.%s.amazonaws.com", "us-east-1", 587, TLS_MODE_STARTTLS, NULL, "amazonses.com", { 2587, 25 } },
	/* https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-smtp
	 * smtp.mailgun.org (US) or smtp.eu.mailgun.org (EU), 587 STARTTLS; "The
	 * servers listen on ports 25, 465, 587, and 2525" (25, 587 and 2525
	 * with STARTTLS; "Google Compute Engine allows port 2525"). */
	{ "mailgun", "smtp%s.mailgun.org", "us", 587, TLS_MODE_STARTTLS, NULL, "mailgun.org", { 2525, 25 } },
	/* https://postmarkapp.com/developer/user-guide/send-email-with-smtp
	 * smtp.postmarkapp.com, 587 STARTTLS; user and password are the server token. */
	{ "postmark", "smtp.postmarkapp.com", NULL, 587, TLS_MODE_STARTTLS, NULL, "spf.mtasv.net", { 0 } },
	/* https://help.brevo.com/hc/en-us/articles/7924908994450 (SMTP relay)
	 * smtp-relay.brevo.com, 587 STARTTLS, the account's SMTP login. */
	{ "brevo", "smtp-relay.brevo.com", NULL, 587, TLS_MODE_STARTTLS, NULL, "spf.brevo.com", { 0 } },
	/* https://support.google.com/a/answer/176600 (smtp.gmail.com, 587 TLS
	 * or 465 SSL, an app password with 2-step verification). */
	{ "gmail", "smtp.gmail.com", NULL, 587, TLS_MODE_STARTTLS, NULL, "_spf.google.com", { 0 } },
	/* https://learn.microsoft.com/exchange/mail-flow-best-practices/how-to-set-up-a-multifunction-device-or-application-to-send-email-using-microsoft-365-or-office-365
	 * smtp.office365.com, 587 STARTTLS, SMTP AUTH enabled for the mailbox. */
	{ "office365", "smtp.office365.com", NULL, 587, TLS_MODE_STARTTLS, NULL, "spf.protection.outlook.com", { 0 } },
	/* https://www.fastmail.help/hc/en-us/articles/1500000278342 (smtp.fastmail.com,
	 * 465 SSL/TLS, an app password). */
	{ "fastmail", "smtp.fastmail.com", NULL, 465, TLS_MODE_IMPLICIT, NULL, "spf.messagingengine.com", { 0 } },
	/* https://www.zoho.com/mail/help/zoho-smtp.html (smtp.zoho.com, 465 SSL
	 * or 587 TLS; smtp.zoho.eu for EU data centre accounts). */
	{ "zoho", "smtp.zoho.%s", "com", 465, TLS_MODE_IMPLICIT, NULL, "zoho.com", { 0 } },
};

/* pattern with one "%s" replaced by value (no printf on data). */
static void substitute(const char *pattern, const char *value, char *buf, size_t size)
{
	const char *mark = strstr(pattern, "%s");

	snprintf(buf, size, "%.*s%s%s", (int)(mark - pattern), pattern, value, mark + 2);
}

/* OAuth for the providers that retire passwords.  "%s" in an endpoint is
 * replaced by oauth_tenant. */
struct oauth_preset {
	const char *name;
	const char *authorize, *token, *device;
	const char *scope;              /* for a person's sign-in (delegated) */
	const char *app_scope;          /* for client_credentials */
	const char *default_tenant;
	enum oauth_grant grant;
};

static const struct oauth_preset oauth_presets[] = {
	/* https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
	 * Delegated scope https://outlook.office.com/SMTP.Send (+ offline_access
	 * for a refresh token); application permissions use
	 * https://outlook.office365.com/.default with client credentials.
	 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
	 * (device code flow at /{tenant}/oauth2/v2.0/devicecode). */
	{ "office365", "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize",
	  "https://login.microsoftonline.com/%s/oauth2/v2.0/token",
	  "https://login.microsoftonline.com/%s/oauth2/v2.0/devicecode",
	  "https://outlook.office.com/SMTP.Send offline_access", "https://outlook.office365.com/.default",
	  "common", OAUTH_GRANT_DEVICE_CODE },
	/* https://developers.google.com/identity/protocols/oauth2/native-app
	 * (authorization code + PKCE, loopback redirect; the device flow does
	 * not allow the Gmail scope: https://developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes)
	 * https://developers.google.com/gmail/imap/xoauth2-protocol (scope
	 * https://mail.google.com/, SASL XOAUTH2 for SMTP). */
	{ "gmail", "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token", NULL,
	  "https://mail.google.com/", NULL, NULL, OAUTH_GRANT_AUTHORIZATION_CODE },
};

static const struct oauth_preset *find_oauth(const char *name)
{
	for (size_t i = 0; i < sizeof oauth_presets / sizeof oauth_presets[0]; i++) {
		if (strcasecmp(oauth_presets[i].name, name) == 0)
			return &oauth_presets[i];
	}
	return NULL;
}

static void preset_endpoint(struct account *acct, enum account_key key, char **field, const char *pattern,
			    const char *tenant, char *buf, size_t size)
{
	if ((acct->set_mask & KEY_BIT(key)) || pattern == NULL)
		return;
	if (strstr(pattern, "%s") != NULL)
		substitute(pattern, tenant, buf, size);
	else
		snprintf(buf, size, "%s", pattern);
	*field = buf;
	acct->set_mask |= KEY_BIT(key);
}

/* Only an account that opts in with oauth_client_id (an application the
 * user registered) gets the endpoints and scope. */
static bool apply_oauth(struct account *acct, struct result *r)
{
	const struct oauth_preset *o = find_oauth(acct->provider);
	const char *tenant;

	if (o == NULL || acct->oauth_client_id == NULL)
		return true;
	if (!(acct->set_mask & KEY_BIT(KEY_OAUTH_GRANT))) {
		acct->oauth_grant = o->grant;
		acct->set_mask |= KEY_BIT(KEY_OAUTH_GRANT);
	}
	tenant = acct->oauth_tenant ? acct->oauth_tenant : o->default_tenant;
	if (acct->oauth_grant == OAUTH_GRANT_CLIENT_CREDENTIALS && o->default_tenant != NULL &&
	    acct->oauth_tenant == NULL)
		return result_fail(r, RESULT_CONFIG,
				   _("%s: account '%s' uses client_credentials: set oauth_tenant to the tenant ID or domain"),
				   acct->section_origin, acct->name);
	preset_endpoint(acct, KEY_OAUTH_AUTHORIZE_ENDPOINT, &acct->oauth_authorize_endpoint, o->authorize, tenant,
			acct->preset_authorize_endpoint, sizeof acct->preset_authorize_endpoint);
	preset_endpoint(acct, KEY_OAUTH_TOKEN_ENDPOINT, &acct->oauth_token_endpoint, o->token, tenant,
			acct->preset_token_endpoint, sizeof acct->preset_token_endpoint);
	preset_endpoint(acct, KEY_OAUTH_DEVICE_ENDPOINT, &acct->oauth_device_endpoint, o->device, tenant,
			acct->preset_device_endpoint, sizeof acct->preset_device_endpoint);
	if (!(acct->set_mask & KEY_BIT(KEY_OAUTH_SCOPE))) {
		acct->oauth_scope = (char *)(acct->oauth_grant == OAUTH_GRANT_CLIENT_CREDENTIALS && o->app_scope
					     ? o->app_scope : o->scope);
		acct->set_mask |= KEY_BIT(KEY_OAUTH_SCOPE);
	}
	return true;
}

const char *providers_names(void)
{
	return "sendgrid ses mailgun postmark brevo gmail office365 fastmail zoho";
}

static const struct preset *find(const char *name)
{
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
		if (strcasecmp(presets[i].name, name) == 0)
			return &presets[i];
	}
	return NULL;
}

const char *providers_spf_include(const struct account *acct)
{
	const struct preset *p = acct && acct->provider ? find(acct->provider) : NULL;

	return p ? p->spf : NULL;
}

static bool region_host(const struct preset *p, const char *region, char *buf, size_t size,
			struct result *r)
{
	const char *reg = region ? region : p->default_region;

	for (const char *c = reg; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return result_fail(r, RESULT_CONFIG, _("invalid region '%s'"), reg);
	}
	if (strcmp(p->name, "mailgun") == 0) {
		if (strcmp(reg, "us") != 0 && strcmp(reg, "eu") != 0)
			return result_fail(r, RESULT_CONFIG, _("mailgun region must be us or eu, not '%s'"), reg);
		substitute(p->host, strcmp(reg, "eu") == 0 ? ".eu" : "", buf, size);
	} else {
		substitute(p->host, reg, buf, size);
	}
	return true;
}

bool providers_apply(struct account *acct, char *host_buf, size_t host_size, struct result *r)
{
	const struct preset *p;
	bool has = false;

	if (acct->provider == NULL)
		return true;
	p = find(acct->provider);
	if (p == NULL)
		return result_fail(r, RESULT_CONFIG, _("%s: unknown provider '%s' (known: %s)"),
				   acct->origin[KEY_PROVIDER], acct->provider, providers_names());
	if (!(acct->set_mask & KEY_BIT(KEY_HOST))) {
		if (strchr(p->host, '%') != NULL) {
			if (!region_host(p, acct->region, host_buf, host_size, r))
				return false;
		} else {
			snprintf(host_buf, host_size, "%s", p->host);
		}
		acct->host = host_buf;
		acct->set_mask |= KEY_BIT(KEY_HOST);
	}
	has = acct->set_mask & KEY_BIT(KEY_PORT);
	if (!(acct->set_mask & KEY_BIT(KEY_TLS))) {
		/* An explicit port 465 still means implicit TLS. */
		acct->tls = has && acct->port == 465 ? TLS_MODE_IMPLICIT
			    : has && acct->port == 587 ? TLS_MODE_STARTTLS : p->tls;
		acct->set_mask |= KEY_BIT(KEY_TLS);
	}
	if (!has) {
		acct->port = acct->tls == p->tls ? p->port : acct->tls == TLS_MODE_IMPLICIT ? 465 : 587;
		acct->set_mask |= KEY_BIT(KEY_PORT);
	}
	if (!(acct->set_mask & KEY_BIT(KEY_USER)) && p->user != NULL) {
		acct->user = (char *)p->user;
		acct->set_mask |= KEY_BIT(KEY_USER);
	}
	return apply_oauth(acct, r);
}

struct hint {
	const char *provider;           /* NULL: any relay */
	const char *needle;             /* substring of the failure text */
	const char *needle2;            /* second substring, or NULL */
	const char *text;
};

static const struct hint hints[] = {
	{ "sendgrid", "535", NULL,
	  N_("hint: SendGrid's SMTP user name is literally 'apikey' and the password is the API key") },
	{ "ses", "not verified", NULL,
	  N_("hint: Amazon SES accepts only verified senders, and in the sandbox only verified recipients; verify the address or set from and from_policy = always") },
	{ "ses", "535", NULL,
	  N_("hint: Amazon SES needs SMTP credentials (not the IAM access key) created for the same region as the endpoint") },
	{ "gmail", "5.7.9", NULL,
	  N_("hint: Gmail requires an app password (Google account, Security, App passwords) with 2-step verification") },
	{ "gmail", "534", NULL,
	  N_("hint: Gmail requires an app password (Google account, Security, App passwords) with 2-step verification") },
	{ "office365", "5.7.139", NULL,
	  N_("hint: SMTP AUTH is disabled for this Microsoft 365 mailbox or tenant; an administrator must enable Authenticated SMTP") },
	{ "office365", "5.7.3", NULL,
	  N_("hint: SMTP AUTH is disabled for this Microsoft 365 mailbox or tenant; an administrator must enable Authenticated SMTP") },
	{ NULL, "550", "sender",
	  N_("hint: the relay does not accept this sender; set from to a verified address and from_policy = always") },
};

/* The preset name, also for a known host without provider = ("" if none). */
static const char *provider_of(const struct account *acct)
{
	const char *provider = acct && acct->provider ? acct->provider : "";

	if (acct && acct->host && !*provider) {
		if (strcasestr(acct->host, "sendgrid.net"))
			provider = "sendgrid";
		else if (strcasestr(acct->host, "amazonaws.com"))
			provider = "ses";
		else if (strcasestr(acct->host, "mailgun.org"))
			provider = "mailgun";
		else if (strcasestr(acct->host, "gmail.com"))
			provider = "gmail";
		else if (strcasestr(acct->host, "office365.com") || strcasestr(acct->host, "outlook.com"))
			provider = "office365";
	}
	return provider;
}

size_t providers_alt_ports(const struct account *acct, unsigned *ports, size_t max)
{
	const struct preset *p = find(provider_of(acct));
	size_t n = 0;

	for (size_t i = 0; p != NULL && i < sizeof p->alt_ports / sizeof p->alt_ports[0] && p->alt_ports[i] && n < max; i++)
		ports[n++] = p->alt_ports[i];
	return n;
}

const char *providers_hint(const struct account *acct, const char *failure)
{
	const char *provider = provider_of(acct);
	for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		const struct hint *h = &hints[i];

		if (h->provider && strcasecmp(h->provider, provider) != 0)
			continue;
		if (!strcasestr(failure, h->needle) || (h->needle2 && !strcasestr(failure, h->needle2)))
			continue;
		if (strcmp(provider, "sendgrid") == 0 && acct->user && strcmp(acct->user, "apikey") == 0 &&
		    strcmp(h->needle, "535") == 0)
			continue;       /* the user name is right: the key is wrong */
		return _(h->text);
	}
	return NULL;
}
