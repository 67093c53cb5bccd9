// Package report builds the security report of the admin API: counts of
// audit events over a period, in total and per UTC day.
//
// # Counting
//
// Every count is the number of audit events of one type recorded in the
// period, as DESIGN.md defines them:
//
//   - logins.successful: login_succeeded (every attempt that yielded a
//     session, web or bearer);
//   - logins.failed: login_failed (bad credentials, unknown user,
//     blacklisted or throttled; malformed requests record nothing);
//   - new_ip_verifications: new_ip_verification (a successful login from an
//     IP the user never logged in from; the first login records none).
//     Under session.NewIPVerify no such login succeeds without a completed
//     verification (an e-mailed code, or the user's second factor), so it
//     counts completed new-IP verifications; under NewIPRecord and
//     NewIPNotify, successful logins from a new IP. A login still waiting
//     for its code, or whose verification failed, is in neither count:
//     its steps are the verification_* events, which no count reads;
//   - sessions_terminated: session_terminated (the terminate action, and
//     each session a blacklisting revoked; never logouts, expiries or
//     revoking one's own token, which record other types);
//   - blacklisted_users: blacklist_added;
//   - file_integrity_violations: integrity_alert_raised;
//   - password_breaches_detected: password_breach_detected.
//
// The counts are made by the [Store], with indexed queries; no event is
// loaded into memory.
//
// # Period
//
// [ParsePeriod] reads the from and to of a request: ISO 8601 dates
// (2024-06-01, a UTC day) or date-times with Z or an offset
// (2024-06-01T10:00:00+02:00). Both bounds are inclusive: a date-only to
// takes in its whole day, a date-time to the instant it names. Both are
// optional: to defaults to now rounded up to the second, from to seven days
// before to. A period may not start after it ends nor be longer than
// [MaxPeriod]. The report echoes the bounds as they were asked, and the
// defaults as RFC 3339 UTC times to the second, both alike
// ("2024-06-07T10:30:16Z"), which select the same span when sent back.
//
// # Daily counts
//
// [Report.Daily] gives the same counts per UTC day, one entry for every day
// the period touches (days without events included), for charts; the
// first and last days cover only the part of the day inside the period.
package report
