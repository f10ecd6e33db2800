/* Who sends: the envelope sender as the caller gave it, and the account an
 * address chooses ([defaults] account_by_sender).
 *
 * An account's `from` is a list of addresses and patterns separated by
 * commas or blanks ("alice@example.com, *@example.org").  A pattern is an
 * fnmatch(3) glob; matching ignores case; "alice+git@example.com" also
 * matches the entry "alice@example.com" (+detail).  The first entry that is
 * not a pattern is the account's default sender.
 *
 * The account choice reads only the account's own `from` (a `from` in
 * [defaults] is everyone's and chooses nothing).  An address entry beats a
 * pattern; among equals the first account in the files wins; no match
 * means the default account.  Errors: RESULT_CONFIG (a bad entry, with its
 * file:line), RESULT_USAGE (a bad -f value).
 */
#ifndef RELAYMAIL_SENDER_H
#define RELAYMAIL_SENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "message.h"
#include "options.h"
#include "result.h"

/* How an address matched a `from` list. */
enum sender_match { SENDER_MATCH_NONE, SENDER_MATCH_PATTERN, SENDER_MATCH_ADDRESS };

/* The first entry of list that is not a pattern, copied to buf ("" when
 * there is none).  RESULT_CONFIG when an entry is not local@domain. */
bool sender_list_primary(const char *list, char *buf, size_t size, struct result *r);

/* Whether addr (a bare addr-spec) matches an entry of list; the entry that
 * matched is copied to entry (may be NULL).  An address entry is preferred
 * to a pattern. */
enum sender_match sender_list_match(const char *list, const char *addr, char *entry, size_t entry_size);

/* The addr-spec of a -f/-r value: "a@b", "Name <a@b>", "a@b (Name)".  ""
 * stays the null sender.  RESULT_USAGE when it is not one address. */
bool sender_parse_given(const char *given, char *buf, size_t size, struct result *r);

/* The address of header name (the first of that name) when it holds exactly
 * one mailbox; false otherwise. */
bool sender_header_address(const struct message *msg, const char *name, char *buf, size_t size);

/* The address of From: when it holds one mailbox, else of Sender: (RFC 5322
 * 3.6.2), into buf; false when neither gives one. */
bool sender_from_headers(const struct message *msg, char *buf, size_t size);

/* The address that chooses the account: -f, else (with -t, or when
 * [defaults] envelope_from = header) From:/Sender:.  "" when there is none.
 * msg may be NULL when sender_needs_message() is false. */
bool sender_choosing_address(const struct config *cfg, const struct options *opts,
			     const struct message *msg, char *buf, size_t size, struct result *r);

/* Whether the account can only be chosen after the message is read. */
bool sender_needs_message(const struct config *cfg, const struct options *opts);

/* The account addr chooses, or NULL for the default account; why gets one
 * line for people ("alice@example.com matches *@example.com of account
 * site2 (/etc/relaymail.conf:12)"). */
const char *sender_choose_account(const struct config *cfg, const char *addr, char *why, size_t why_size);

#endif
