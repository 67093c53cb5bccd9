package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pingIdle is how long a pooled connection may sit idle before it is
// pinged when taken: pgxpool's own default.
const pingIdle = time.Second

// shouldPing is the pool's [pgxpool.Config.ShouldPing]: ping a connection
// taken from the pool when it has been idle for pingIdle, or when its
// socket shows that the server closed it or sent something unasked (see
// [dropped]). A connection that fails the ping is closed and another
// taken, so after a server restart no dead connection reaches a query,
// where a failure would leave unknown whether a write ran.
func shouldPing(ctx context.Context, p pgxpool.ShouldPingParams) bool {
	return p.IdleDuration > pingIdle || dropped(ctx, p.Conn)
}

// dropped reports whether the idle connection c has anything to read: on a
// connection nobody queried, that is the end of the stream (the server
// closed it, as a stopped or restarted server does) or a message sent
// unasked (a notice that it is shutting down, or a changed setting). It
// costs one non-blocking system call and sends nothing. Where the socket
// cannot be checked (see readable) it reports false.
func dropped(ctx context.Context, c *pgx.Conn) bool {
	pc := c.PgConn()
	// SyncConn returns at once unless pgx itself still reads in the
	// background or holds unread bytes; then it pings, and a failure says
	// the connection is gone.
	if err := pc.SyncConn(ctx); err != nil {
		return true
	}
	return readable(pc.Conn())
}
