/* Which account of the system file serves a message in relaymail --serve:
 * the [service] account, or with account_by_sender the account the
 * envelope sender chooses (as sendmail does without the service).  Those
 * other accounts are resolved and their secrets read when first chosen,
 * then kept for the service's life; they have no warm sessions. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "log.h"
#include "rfc5322.h"
#include "sender.h"
#include "service_internal.h"

bool service_accounts_init(struct service *svc, struct result *r)
{
	pthread_mutex_init(&svc->accounts_lock, NULL);
	if (!svc->cfg->account_by_sender || svc->cfg->n_accounts == 0)
		return true;
	svc->others = calloc(svc->cfg->n_accounts, sizeof *svc->others);
	if (svc->others == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

void service_accounts_free(struct service *svc)
{
	if (svc->others != NULL) {
		for (size_t i = 0; i < svc->cfg->n_accounts; i++)
			secret_wipe(&svc->others[i].secret);
		free(svc->others);
		svc->others = NULL;
	}
	pthread_mutex_destroy(&svc->accounts_lock);
}

static size_t account_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		if (cfg->accounts[i].name != NULL && strcmp(cfg->accounts[i].name, name) == 0)
			return i;
	}
	return SIZE_MAX;
}

/* The slot of account i, resolved and with its secret; false: r says why. */
static bool load_other(struct service *svc, size_t i, const char *name, struct result *r)
{
	struct served_account *sa = &svc->others[i];
	bool ok = true;

	pthread_mutex_lock(&svc->accounts_lock);
	if (!sa->ready) {
		ok = config_account_resolve(svc->cfg, name, &sa->acct, r) &&
		     credentials_get(&sa->acct, &sa->secret, r);
		if (ok)
			sa->ready = true;
		else
			secret_wipe(&sa->secret);
	}
	pthread_mutex_unlock(&svc->accounts_lock);
	return ok;
}

bool service_account_for(struct service *svc, const struct options *opts, const struct message *msg,
			 struct served *out, struct result *r)
{
	char addr[ADDRESS_MAX + 1], why[2 * ADDRESS_MAX + 256];
	const char *name = NULL;
	size_t i;

	out->acct = &svc->acct;
	out->secret = &svc->secret;
	out->pool = svc->pool;
	if (svc->others == NULL)
		return true;
	if (!sender_choosing_address(svc->cfg, opts, msg, addr, sizeof addr, r))
		return false;
	if (addr[0] != '\0') {
		name = sender_choose_account(svc->cfg, addr, why, sizeof why);
		if (svc->verbose)
			log_info("%s", why);
	}
	if (name == NULL || strcmp(name, svc->acct.name) == 0 ||
	    (i = account_index(svc->cfg, name)) == SIZE_MAX)
		return true;
	if (!load_other(svc, i, name, r))
		return false;
	out->acct = &svc->others[i].acct;
	out->secret = &svc->others[i].secret;
	out->pool = NULL;
	return true;
}
