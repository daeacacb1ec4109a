/**
 * A TCP stand-in for the database server, to take it away and bring it back
 * under a running application: `forward` relays to the real server, `stop`
 * closes the port and cuts every relayed connection (what a crashed or
 * stopped PostgreSQL looks like to a client), `blackhole` accepts
 * connections and never answers (an unreachable host, a full backlog),
 * `severSilently` kills the relayed connections without the client noticing
 * until it next writes (idle connections that died unseen: a failover behind
 * a virtual IP, a NAT or firewall timeout).
 */
import { once } from 'node:events';
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Cuts the server side of each relayed connection, leaving a trap on the client side. */
  private readonly severs = new Set<() => void>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Reserves a free loopback port (closed until `forward` or `blackhole`). */
  static async create(target: { host: string; port: number }): Promise<TcpProxy> {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port for the proxy');
    return new TcpProxy(address.port, target);
  }

  /** Relays every new connection to the target. */
  forward(): Promise<void> {
    return this.listen((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      this.track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      let severed = false;
      const cut = () => {
        this.severs.delete(sever);
        client.destroy();
        upstream.destroy();
      };
      const sever = () => {
        severed = true;
        this.severs.delete(sever);
        client.unpipe(upstream);
        upstream.unpipe(client);
        upstream.destroy();
        // The client learns only when it sends something: a reset, as from a peer that forgot the connection.
        client.once('data', () => client.resetAndDestroy());
        // unpipe paused it: without this the write would never be read, and the client would wait forever.
        client.resume();
      };
      this.severs.add(sever);
      client.on('error', cut).on('close', cut);
      upstream.on('error', () => (severed ? undefined : cut())).on('close', () => (severed ? undefined : cut()));
    });
  }

  /**
   * Kills every relayed connection on the server's side only: the client
   * sees nothing until its next write, which is answered with a reset. New
   * connections are relayed as before. Returns how many were severed.
   */
  severSilently(): number {
    const severs = [...this.severs];
    for (const sever of severs) sever();
    return severs.length;
  }

  /** Accepts connections and never answers. */
  blackhole(): Promise<void> {
    return this.listen((client) => {
      client.on('error', () => client.destroy());
    });
  }

  /** Closes the port and cuts every open connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.severs.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async listen(onConnection: (socket: net.Socket) => void): Promise<void> {
    await this.stop();
    const server = net.createServer((socket) => {
      this.track(socket);
      onConnection(socket);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }
}

/** The URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(proxy.port);
  return parsed.toString();
}
