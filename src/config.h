/* Layered INI configuration (parsed by inih).
 *
 * Files are applied in order (system file, then the user file or the file
 * named by --config / RELAYMAIL_CONFIG); a later file overrides an earlier
 * one key by key.  Every key remembers where it was set ("file:line") so
 * errors and diagnostics can point at it.  All strings are owned by the
 * struct config and freed by config_free().  Errors are RESULT_CONFIG.
 */
#ifndef RELAYMAIL_CONFIG_H
#define RELAYMAIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_service.h"
#include "result.h"

enum tls_mode { TLS_MODE_STARTTLS, TLS_MODE_IMPLICIT, TLS_MODE_OFF };
enum auth_choice {
	AUTH_CHOICE_AUTO, AUTH_CHOICE_PLAIN, AUTH_CHOICE_LOGIN, AUTH_CHOICE_XOAUTH2,
	AUTH_CHOICE_OAUTHBEARER, AUTH_CHOICE_SCRAM, AUTH_CHOICE_SCRAM_PLUS, AUTH_CHOICE_CRAM_MD5
};
/* How relaymail obtains OAuth tokens; NONE: the account does not use OAuth. */
enum oauth_grant {
	OAUTH_GRANT_NONE, OAUTH_GRANT_DEVICE_CODE, OAUTH_GRANT_AUTHORIZATION_CODE,
	OAUTH_GRANT_CLIENT_CREDENTIALS
};
enum from_policy { FROM_POLICY_KEEP, FROM_POLICY_REWRITE_UNQUALIFIED, FROM_POLICY_ALWAYS };
enum ip_family { IP_FAMILY_ANY, IP_FAMILY_IPV4, IP_FAMILY_IPV6 };
/* Where the envelope sender comes from when -f is not given. */
enum envelope_from { ENVELOPE_FROM_ACCOUNT, ENVELOPE_FROM_HEADER };
enum password_source {
	PASSWORD_SOURCE_AUTO, PASSWORD_SOURCE_KEYRING, PASSWORD_SOURCE_COMMAND,
	PASSWORD_SOURCE_FILE, PASSWORD_SOURCE_SYSTEMD, PASSWORD_SOURCE_PROMPT
};

enum account_key {
	KEY_HOST, KEY_PORT, KEY_TLS, KEY_TLS_CA_FILE, KEY_TLS_VERIFY, KEY_AUTH,
	KEY_USER, KEY_PASSWORD_COMMAND, KEY_PASSWORD_FILE, KEY_FROM, KEY_DOMAIN,
	KEY_TIMEOUT, KEY_PASSWORD_SOURCE, KEY_CREDENTIAL, KEY_FROM_POLICY,
	KEY_QUEUE, KEY_QUEUE_DIR, KEY_QUEUE_LIFETIME, KEY_FAILED_DIR, KEY_FALLBACK,
	KEY_PROVIDER, KEY_REGION, KEY_LOG_FILE, KEY_LOG_FORMAT, KEY_TLS_SESSION_CACHE,
	KEY_DKIM_SELECTOR, KEY_OAUTH_CLIENT_ID, KEY_OAUTH_CLIENT_SECRET,
	KEY_OAUTH_CLIENT_SECRET_FILE, KEY_OAUTH_CLIENT_SECRET_COMMAND, KEY_OAUTH_TENANT,
	KEY_OAUTH_SCOPE, KEY_OAUTH_TOKEN_ENDPOINT, KEY_OAUTH_DEVICE_ENDPOINT,
	KEY_OAUTH_AUTHORIZE_ENDPOINT, KEY_OAUTH_GRANT, KEY_OAUTH_TOKEN_FILE, KEY_ENVELOPE_FROM,
	KEY_ALLOW_FROM_OVERRIDE, KEY_ALIASES_FILE, KEY_ADMIN_ADDRESS, KEY_IP_FAMILY, KEY_SOURCE_IP,
	KEY_CONNECT_TIMEOUT, KEY_PROXY, KEY_PROXY_PASSWORD_FILE, KEY_PROXY_PASSWORD_COMMAND, KEY_COUNT
};

/* One bit per account key in set_mask / file_mask. */
#define KEY_BIT(k) (UINT64_C(1) << (k))

#define CONFIG_DEFAULT_TIMEOUT 30
#define CONFIG_DEFAULT_CONNECT_TIMEOUT 10
#define CONFIG_DEFAULT_QUEUE_LIFETIME (5 * 24 * 3600)

struct aliases_file;

/* [aliases]: a bare local name and the address list it stands for. */
struct alias {
	char *name;
	char *targets;
	char *origin;                   /* "file:line" */
};

struct account {
	char *name;
	char *host;
	unsigned port;
	enum tls_mode tls;
	char *tls_ca_file;
	bool tls_verify;
	enum auth_choice auth;
	char *user;
	char *password_command;
	char *password_file;
	enum password_source password_source;
	char *credential;               /* systemd credential name or path */
	char *from;                     /* resolved: the default sender (from_primary) or NULL */
	char *domain;
	unsigned timeout;
	enum from_policy from_policy;
	bool queue;                     /* queue on temporary failure (default yes) */
	char *queue_dir;
	unsigned queue_lifetime;        /* seconds */
	char *failed_dir;
	char *fallback;                 /* account tried on a temporary failure */
	char *provider;                 /* preset name (providers.c) */
	char *region;                   /* SES / Mailgun / Zoho endpoint */
	char preset_host[128];          /* host built by the preset */
	char *log_file;
	bool log_json;                  /* log_format = json */
	bool tls_session_cache;         /* resume TLS sessions (default yes) */
	char *dkim_selector;            /* for relaymail --check */
	enum envelope_from envelope_from; /* account (default) or header (From:/Sender:) */
	bool allow_from_override;       /* honour -f/-r (default yes) */
	char *aliases_file;             /* /etc/aliases-style file, or NULL */
	char *admin_address;            /* gets the notices of expired/failed mail */
	enum ip_family ip_family;       /* which addresses of the relay to try */
	char *source_ip;                /* local address to connect from, or NULL */
	unsigned connect_timeout;       /* seconds for TCP (and the proxy) to connect */
	char *proxy;                    /* socks5h://[user@]host:port or http://[user@]host:port */
	char *proxy_password_file;
	char *proxy_password_command;
	char tls_cache_file[512];       /* set by config_account_resolve(); "" when off */
	/* Set by config_account_resolve(): `from` as written (addresses and
	 * patterns, sender.h) and its first address, which `from` then points to. */
	const char *from_list;
	char from_primary[1000];

	/* OAuth 2.0 (oauth.c); endpoints and scope may come from a preset. */
	char *oauth_client_id;
	char *oauth_client_secret;
	char *oauth_client_secret_file;
	char *oauth_client_secret_command;
	char *oauth_tenant;
	char *oauth_scope;
	char *oauth_token_endpoint;
	char *oauth_device_endpoint;
	char *oauth_authorize_endpoint;
	enum oauth_grant oauth_grant;   /* NONE unless set or implied by oauth_client_id */
	char *oauth_token_file;         /* the refresh token, instead of the keyring */
	char oauth_cache_file[512];     /* set by config_account_resolve(); "" when none */
	/* Endpoints built by a preset (providers.c) from oauth_tenant. */
	char preset_token_endpoint[160];
	char preset_device_endpoint[160];
	char preset_authorize_endpoint[160];

	/* Set by config_account_resolve(): the [aliases] table (borrowed). */
	const struct alias *aliases;
	size_t n_aliases;
	/* The aliases_file, read at its first lookup (aliases_file.h); owned by
	 * the account in cfg that set aliases_file, borrowed by resolved copies. */
	struct aliases_file *alias_table;

	uint64_t set_mask;              /* KEY_BIT(key) when set by a file */
	uint64_t file_mask;             /* same, for the file being parsed */
	char *origin[KEY_COUNT];        /* "file:line" of each set key */
	char *section_origin;           /* "file:line" of the section header */
};

struct config {
	struct account defaults;        /* [defaults]; name is NULL */
	char *default_account;
	char *default_account_origin;
	struct account *accounts;
	size_t n_accounts;
	struct alias *aliases;
	size_t n_aliases;
	/* [defaults] alternate_config_directories (system file only): where a
	 * --config file may live for users other than root (config_trust.c). */
	char *alternate_dirs;
	char *alternate_dirs_origin;
	/* [defaults] account_by_sender: the envelope sender chooses the account. */
	bool account_by_sender;
	char *account_by_sender_origin;
	bool loading_system;            /* while the system file is parsed */
	struct service_config service;  /* [service] (system file only) */
};

/* Where the file after the system file comes from, which decides whether
 * it is required and whether it must pass config_trust_cmdline_file(). */
enum config_user_source {
	CONFIG_USER_STANDARD = 0,       /* ~/.config/relaymail/config: optional */
	CONFIG_USER_ENV = 1,            /* RELAYMAIL_CONFIG: required */
	CONFIG_USER_ARGV = 2,           /* --config: required, and trusted only by rule */
};

void config_init(struct config *cfg);

/* Apply one file.  A missing file is an error only when required. The file
 * must not be writable by group or others, nor owned by another user. */
bool config_load_file(struct config *cfg, const char *path, bool required, struct result *r);

/* The standard layering: system_file (optional), then user_file (optional
 * when standard, required otherwise; from the command line only when
 * config_trust_cmdline_file() allows it: RESULT_USAGE if not). */
bool config_load(struct config *cfg, const char *system_file, const char *user_file,
		 enum config_user_source source, struct result *r);

/* The user file path: $XDG_CONFIG_HOME/relaymail/config or
 * ~/.config/relaymail/config.  Returns false when neither is known. */
bool config_user_path(char *buf, size_t size);

/* Choose an account (name, else default_account, else the only one), fill in
 * [defaults] and built-in defaults, and check it is complete.  *out borrows
 * every string from cfg. */
bool config_account_resolve(const struct config *cfg, const char *name,
			    struct account *out, struct result *r);

/* The alias for a bare local name (case-insensitive), or NULL. */
const char *config_alias(const struct account *acct, const char *name);

/* The account's value of key as text ("587", "starttls", ...); false
 * when it has none. */
bool config_key_value(const struct account *a, enum account_key key, char *buf, size_t size);

/* Key name for messages ("host", "port", ...). */
const char *config_key_name(enum account_key key);

void config_free(struct config *cfg);

#endif
