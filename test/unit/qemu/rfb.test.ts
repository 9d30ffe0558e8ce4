import { describe, expect, it } from "vitest";
import { listeners } from "../../qemu/rfb.ts";

const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

describe("listening sockets from /proc/net/tcp", () => {
  it("lists the local addresses listening on a port, IPv4 and IPv6, and nothing else", () => {
    const tcp = `${HEADER}   0: 0100007F:170C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n   1: 0100007F:170C 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n`;
    const tcp6 = `${HEADER}   0: 00000000000000000000000000000000:170C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0\n`;
    expect(listeners([tcp], 5900)).toEqual(["0100007F"]);
    expect(listeners([tcp, tcp6], 5900)).toEqual(["0100007F", "00000000000000000000000000000000"]);
    expect(listeners([tcp], 22)).toEqual(["00000000"]);
    expect(listeners([tcp], 5901)).toEqual([]);
  });
});
