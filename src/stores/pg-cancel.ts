import { connect } from 'node:net';
import type pg from 'pg';

/** The CancelRequest code of the PostgreSQL protocol (1234 in the high half, 5678 in the low). */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Cancels what a PostgreSQL connection runs now, as psql's Ctrl-C does: the protocol's
 * CancelRequest on a socket of its own, carrying the session's process id and secret key (no
 * password, no free connection slot needed). A statement waiting for a lock, a COPY or a long
 * query then ends at once with "canceling statement due to user request", and its transaction
 * can roll back. Nothing is waited for; a request that cannot be delivered changes nothing.
 */
export function pgCancel(client: pg.Client): void {
  const c = client as unknown as { processID?: number | null; secretKey?: number | null; host?: string; port?: number };
  if (!c.processID || c.secretKey === null || c.secretKey === undefined) return;
  const port = c.port ?? 5432;
  const host = c.host ?? 'localhost';
  const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
  socket.on('error', () => {});
  socket.setTimeout(5000, () => socket.destroy());
  socket.on('connect', () => {
    const b = Buffer.alloc(16);
    b.writeInt32BE(16, 0);
    b.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    b.writeInt32BE(c.processID!, 8);
    b.writeInt32BE(c.secretKey!, 12);
    // The server closes the socket once it has read the request.
    socket.end(b);
  });
}
