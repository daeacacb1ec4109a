/**
 * A counting TCP proxy in front of PostgreSQL: a server connects to the
 * proxy's port instead of the database's, every byte is passed through
 * unchanged, and the client-to-server direction is read as PostgreSQL's
 * frontend protocol to count the statements the server asks to run: one per
 * simple `Query` ('Q') and one per extended-protocol `Execute` ('E'), however
 * the statement was prepared (unnamed, named, or reused from an earlier
 * `Parse`). This counts what reaches the database, whatever the server's own
 * logging says, and works the same for any client library. It also keeps
 * each statement's text (a `Query`'s own, or for an `Execute` the text of the
 * `Parse` whose statement its portal was bound to), for a listing.
 *
 * Only plain-text connections can be read: an `SSLRequest` is refused with
 * 'N' (the protocol's "no SSL here"), so the client goes on in plain text.
 */
import net from 'node:net';

/** Codes of the requests that may come before the startup packet (which, like them, has no type byte). */
const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;

export interface StatementCounter {
  /** URL for the server to use: the database URL with the proxy's host and port. */
  url: string;
  /** Statements received so far over every connection. */
  readonly statements: number;
  /** The texts of the statements received since the last call (in arrival order), and forgets them. */
  takeTexts(): string[];
  close(): Promise<void>;
}

/** A NUL-terminated string of a protocol message, from `offset`; the offset after it. */
function cstring(buffer: Buffer, offset: number): [string, number] {
  const end = buffer.indexOf(0, offset);
  return [buffer.toString('utf8', offset, end), end + 1];
}

class FrontendReader {
  private buffer: Buffer = Buffer.alloc(0);
  private started = false;
  /** Prepared statement texts by name ('' is the unnamed one), and which statement each portal was bound to. */
  private readonly prepared = new Map<string, string>();
  private readonly portals = new Map<string, string>();

  constructor(private readonly onStatement: (text: string) => void) {}

  /** Reads as many whole messages as the data holds; keeps the rest for the next chunk. */
  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      if (!this.started) {
        if (this.buffer.length - offset < 8) break;
        const length = this.buffer.readInt32BE(offset);
        if (this.buffer.length - offset < length) break;
        offset += length;
        this.started = true;
        continue;
      }
      if (this.buffer.length - offset < 5) break;
      const type = this.buffer[offset];
      const length = this.buffer.readInt32BE(offset + 1);
      if (this.buffer.length - offset < 1 + length) break;
      const body = offset + 5;
      if (type === 0x51 /* Q */) this.onStatement(cstring(this.buffer, body)[0]);
      else if (type === 0x50 /* P: statement name, text */) {
        const [name, next] = cstring(this.buffer, body);
        this.prepared.set(name, cstring(this.buffer, next)[0]);
      } else if (type === 0x42 /* B: portal name, statement name */) {
        const [portal, next] = cstring(this.buffer, body);
        this.portals.set(portal, cstring(this.buffer, next)[0]);
      } else if (type === 0x45 /* E: portal name */) {
        this.onStatement(this.prepared.get(this.portals.get(cstring(this.buffer, body)[0]) ?? '') ?? '?');
      }
      offset += 1 + length;
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }
}

/** Starts a counting proxy on 127.0.0.1 (a free port) in front of the database of `databaseUrl`. */
export async function startStatementCounter(databaseUrl: string): Promise<StatementCounter> {
  const target = new URL(databaseUrl);
  const targetHost = target.hostname === 'localhost' ? '127.0.0.1' : target.hostname;
  const targetPort = Number(target.port || 5432);
  let statements = 0;
  let texts: string[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: targetHost, port: targetPort });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const reader = new FrontendReader((text) => {
      statements += 1;
      if (texts.length < 10_000) texts.push(text);
    });
    let first = true;
    client.on('data', (chunk: Buffer) => {
      // An SSLRequest (or GSSENCRequest) opens the connection alone and waits for one byte:
      // answered 'N' here and not forwarded, so the client carries on in plain text.
      if (first && chunk.length === 8 && [SSL_REQUEST, GSS_REQUEST].includes(chunk.readInt32BE(4))) {
        client.write('N');
        return;
      }
      first = false;
      reader.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the counting proxy has no TCP address');
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    get statements() {
      return statements;
    },
    takeTexts() {
      const taken = texts;
      texts = [];
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
