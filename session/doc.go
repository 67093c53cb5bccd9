// Package session logs users in and keeps track of their sessions: web
// sessions behind a cookie and mobile sessions behind a bearer token. It
// terminates sessions, keeps the session blacklist, notices logins from new
// IP addresses and throttles password guessing.
//
// # Credentials and sessions
//
// Every successful [Manager.Login] creates a [Session] with a public id
// ("sess_…") and a credential (64 lowercase hex digits) that the caller hands
// to the client as a cookie or bearer token. Only a hash of the credential is
// stored. [Manager.Authenticate] turns a credential back into the session and
// its [security.Principal]; it is a read, except that LastActive is
// refreshed at most once per [Config.TouchInterval] by a conditional write
// that can never revive a revoked session.
//
// # Passwords
//
// The host owns its users ([UserDirectory]) and stores their passwords as
// argon2id PHC strings made by [Hasher]. Login verifies in constant time,
// verifies against a dummy hash of the same cost when the email is unknown
// (so timing does not reveal which emails exist), and rehashes the password
// when the parameters have changed and the directory implements
// [PasswordUpdater]. At most [Config.MaxConcurrentHashes] hashes run at once.
//
// # Throttling
//
// After [Config.MaxFailuresPerEmail] failed logins for one email (or
// [Config.MaxFailuresPerIP] from one IP) within [Config.FailureWindow],
// further attempts are refused with a [security.ThrottledError] before the
// password is looked at. A throttled attempt is recorded as a failed login
// but does not extend the lockout.
//
// Each attempt is reserved before its password is checked
// ([Store.ReserveLoginAttempt]): the store counts the key's failures and
// records the attempt as one more, in one atomic step, and a right password
// withdraws it. So attempts sent all at once are counted one after another,
// on every instance sharing the store: no more than the limit's worth reach
// the hash, and the lockout event is recorded once. An attempt that ends in
// an error (the store or the client went away mid-check) stays counted as a
// failure.
//
// # Password change
//
// [Manager.ChangePassword] changes the caller's own password. The current
// password is verified like a login's: the attempt counts against the same
// throttling keys (email and IP), and a right password withdraws it. The
// new one must have at least [MinPasswordRunes] characters and at most
// [MaxPasswordBytes] bytes, differ from the current one and, with
// [Config.BreachCheck], not be known from breaches; a breach check that
// fails refuses the change (fail closed). The new hash is stored, every
// other session and bearer token of the user revoked (unless the caller
// keeps them) and an [EventPasswordChanged] recorded in one transaction
// of a [PasswordChanger] store, as a compare-and-set on the hash that was
// verified, so of two concurrent changes only one wins, and the rehash of
// a racing login cannot undo one. The revoked sessions get no
// session_terminated event: the security report does not count them.
//
// # One's own sessions
//
// Any authenticated user may list their own live sessions
// ([Manager.ListOwn]) and sign out everywhere else
// ([Manager.TerminateOthers]): every other session and bearer token of
// theirs is revoked, each with a session_terminated event (reason
// signed_out_elsewhere), which the security report counts. Listing every
// user's sessions ([Manager.List]) and terminating one by id
// ([Manager.Terminate]) are for staff.
//
// # Step-up verification
//
// A login whose password is right may need a second step before it gets a
// session: when the user has a second factor (TOTP, or a [FactorMethod]
// such as passkeys) and is asked for it (at every login, or only from new
// addresses with [Config.SecondFactorOnlyFromNewIP]), or when it comes
// from a new address and [Config.NewIP] is [NewIPVerify] (a one-time code
// e-mailed through [Config.Mailer]). [Manager.Login] then creates nothing
// and returns [LoginResult.Verification]; [Manager.VerifyLogin] (or
// [Manager.CompleteVerification] for a FactorMethod) completes it with the
// result the login would have given. A verification is stored by the
// hash of its id, bound to the login's IP and user agent, expires after
// [Config.VerificationTTL], ends after [Config.MaxVerificationAttempts]
// wrong codes, and each attempt counts against the login throttle like a
// password. Codes are accepted once: the e-mailed code with its
// verification, a TOTP code's time step and every earlier one (RFC 6238
// §5.2) by an atomic store write, a recovery code by marking it used.
//
// TOTP follows RFC 6238 (HMAC-SHA1, six digits, 30-second steps, one step
// of skew) with 160-bit secrets sealed with XChaCha20-Poly1305 under a
// key derived from [Config.FactorKey] and bound to the user id; an
// enrolment is pending until [Manager.ConfirmTOTP] sees a code, which also
// makes ten recovery codes. The hashes of e-mailed codes and recovery
// codes are keyed by FactorKey too, so a copy of the database alone does
// not let anyone test codes offline.
//
// With [Config.RequireStaffSecondFactor], a staff user without a second
// factor gets restricted sessions ([Auth.Restricted], no permissions)
// that can only enrol one. [NewIPNotify] e-mails the user after a login
// from a new address, off the login's goroutine; [Manager.Close] waits for
// those messages. Every step is an audit event (security.EventVerification…,
// security.EventSecondFactor…). Stores keep verifications and factors
// through the optional [VerificationStore] and [FactorStore].
//
// # Blacklist
//
// [Manager.Blacklist] revokes every live session of a user, web and mobile,
// in the same transaction that adds them to the blacklist, and the store
// refuses to create a session for a blacklisted user, so no login racing with
// the blacklisting can slip through. [Manager.Unblacklist] lets the user log
// in again but revives nothing.
package session
