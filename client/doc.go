// Package client is a typed Go client of propsec's security API, the
// endpoints that package httpadapter serves and that its OpenAPI document
// (GET /api/security/openapi.json, httpadapter/openapi.json in the
// repository) describes.
//
// # Use
//
//	c, err := client.New("https://propops.example.com")
//	_, err = c.IssueToken(ctx, "ada@example.com", password) // bearer auth from now on
//	sessions, err := c.Sessions(ctx, client.SessionQuery{Limit: 50})
//	err = c.TerminateSession(ctx, sessions.Sessions[0].SessionID)
//
// Every endpoint is a method with typed arguments and results. A refusal
// is an [*Error] carrying the envelope's status, code and message (and
// Retry-After for a 429); test it with errors.As or [IsCode].
//
// # Authentication
//
// With a bearer token: [Client.IssueToken] (POST /api/security/mobile-auth)
// makes the client use the token it gets, or [WithBearer] gives one. With a
// session cookie: [Client.Login] (POST /login) stores the cookie in the
// client's cookie jar, which [New] makes unless [WithHTTPClient] supplies
// an http.Client (give it a Jar for cookie sessions).
//
// # Verification and second factors
//
// When the server asks for a second step (a login from a new address
// under its verify policy, or a user with TOTP), Login and IssueToken
// return no session but a [Verification]: ask the user for a code of one
// of its Methods and send it with [Client.VerifyLogin] (cookie) or
// [Client.VerifyToken] (bearer). A wrong code is an [*Error] with code
// verification_failed and AttemptsLeft. [Client.MFAStatus],
// [Client.EnrollTOTP], [Client.ConfirmTOTP],
// [Client.RegenerateRecoveryCodes] and [Client.RemoveSecondFactor] manage
// the caller's factors.
//
// # CSRF
//
// Every state-changing call fetches a fresh token from GET
// /api/security/csrf-token and sends it in the X-CSRF-Token header, as
// tokens are single-use by default. With [WithReusableCSRF], for a server
// that runs the reusable mode, one token is fetched and reused; should the
// server refuse it (csrf_invalid: expired, or the server is not in that
// mode after all) the client fetches a new one and tries once more, which
// is safe because a refused request changed nothing.
//
// # Why hand-written
//
// Generators handle OpenAPI 3.1 poorly (type arrays, const, oneOf bodies)
// and their output treats a non-2xx answer as a value and reads bodies
// without bound. This client is small, depends on the standard library
// only, caps every body it reads ([MaxResponseBytes]), and its tests run
// every call through the same OpenAPI validator as the server's tests, so
// it cannot drift from the document unnoticed.
package client
