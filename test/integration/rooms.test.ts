import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtImages, corruptedCopy, probeImage } from "../qemu/probe-image.ts";
import { Vm, type Record } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, bootRoomsVm, helperIds } from "./helpers.ts";

const ROOM_MS = 60_000;

/** One boot for all room tests: web and work autostart; the tests start the rest through the test port. */
describe("rooms", () => {
  let vm: Vm;

  beforeAll(async () => {
    const probe = probeImage();
    const corrupt = corruptedCopy("corrupt", probe);
    vm = await bootRoomsVm({
      name: "rooms",
      memoryMb: 1536,
      images: [...builtImages(), probe, corrupt],
      mounted: ["probe"],
    });
  }, BOOT_TIMEOUT_MS + 30_000);
  afterAll(async () => {
    await vm?.stop();
  });

  const control = (command: string): Promise<Record> => vm.control(command, ROOM_MS);
  const outputOf = (room: string): string[] =>
    vm.records.filter((r) => r.event === "room.output" && r.room === room).map((r) => String(r.line));
  const waitOutput = (room: string, pattern: RegExp) =>
    vm.waitFor("room.output", ROOM_MS, (r) => r.room === room && pattern.test(String(r.line)));

  it("starts the autostart rooms web and work from the image's policies", async () => {
    for (const room of ["web", "work"]) {
      const started = await vm.waitFor("room.started", ROOM_MS, (r) => r.room === room);
      expect(started.spawn_ms).toBeGreaterThan(0);
      await waitOutput(room, new RegExp(`${room} room ready`));
    }
  });

  it("rejects a broken policy naming file and line, and loads the others", async () => {
    const rejected = await vm.waitFor("policy.rejected", 0);
    expect(rejected).toMatchObject({ file: "/etc/anchor/policies/broken.toml", line: 6, field: "limits.pids_max" });
    const loaded = await vm.waitFor("policy.loaded", 0);
    expect(loaded.policies).toEqual(expect.arrayContaining(["web", "work", "escape", "escape-root"]));
  });

  /** Attempts in test/rooms/escape.c: all of them as the room's user; as root, all but the three loopback allows. */
  const ESCAPE_ATTEMPTS = { escape: 62, "escape-root": 59 };

  it.each(Object.entries(ESCAPE_ATTEMPTS))(
    "%s: every attempt of the escape catalogue is blocked by the layer meant to block it",
    async (room, count) => {
      expect((await control(`start ${room}`)).ok).toBe(true);
      const exited = await vm.waitFor("room.exited", ROOM_MS, (r) => r.room === room);
      expect(exited.status).toBe(0);
      const lines = outputOf(room);
      expect(vm.records.some((r) => r.event === "room.output_dropped" && r.room === room)).toBe(false);
      expect(lines.at(-1)).toBe(`attempts=${count} mode=${room === "escape" ? "user" : "root"}`);
      const attempts = lines.filter((l) => l.startsWith("attempt "));
      expect(attempts).toHaveLength(count);
      expect(attempts.filter((l) => !/^attempt \S+ blocked \([A-Z0-9]+\)$/.test(l))).toEqual([]);
    },
  );

  it("caps a fork bomb with pids.max while bay0 and the sibling rooms keep working", async () => {
    expect((await control("start bomb")).ok).toBe(true);
    await waitOutput("bomb", /can't fork|Resource temporarily unavailable/);
    expect((await control("start peek")).ok).toBe(true);
    await waitOutput("peek", /peek-sees-nothing/);
    expect((await control("kill bomb")).ok).toBe(true);
    await vm.waitFor("room.killed", ROOM_MS, (r) => r.room === "bomb");
    expect(vm.records.some((r) => r.event === "room.exited" && (r.room === "web" || r.room === "work"))).toBe(false);
  });

  it("OOM-kills a memory hog inside its room only", async () => {
    expect((await control("start hog")).ok).toBe(true);
    const oom = await vm.waitFor("room.oom", ROOM_MS, (r) => r.room === "hog");
    expect(oom.oom_kills).toBeGreaterThanOrEqual(1);
    await waitOutput("hog", /hog-status=/);
    expect(outputOf("hog")).not.toContain("hog-survived");
    expect((await control("kill hog")).ok).toBe(true);
  });

  it("gives ENOSPC when a room fills its writable layer, inside only", async () => {
    expect((await control("start filler")).ok).toBe(true);
    await waitOutput("filler", /filler-status=/);
    expect(outputOf("filler").join("\n")).toMatch(/No space left on device/);
    expect((await control("kill filler")).ok).toBe(true);
  });

  it("forgets a room's writes on reset, and no other room ever saw them", async () => {
    expect((await control("start amnesia")).ok).toBe(true);
    const wrote = await waitOutput("amnesia", /^amnesia-wrote$/);
    // peek (started with the fork bomb) looks every two seconds: its next look comes after the write.
    const look = await vm.waitFor("room.output", ROOM_MS, (r) => r.room === "peek" && r.hostMs > wrote.hostMs + 100);
    expect(look.line).toBe("peek-sees-nothing");
    expect(outputOf("peek")).not.toContain("peek-sees-secret");
    const reset = await control("reset amnesia");
    expect(reset.ok).toBe(true);
    const done = await vm.waitFor("room.reset", ROOM_MS, (r) => r.room === "amnesia");
    expect(done.reset_ms).toBeGreaterThan(0);
    // The fresh room wrote again (it found nothing of its earlier life).
    await vm.waitFor(
      "room.output",
      ROOM_MS,
      (r) => r.room === "amnesia" && r.line === "amnesia-wrote" && r.hostMs > wrote.hostMs,
    );
    expect(outputOf("amnesia").filter((l) => l === "amnesia-wrote")).toHaveLength(2);
    expect(outputOf("amnesia")).not.toContain("amnesia-secret-survived");
  });

  it("refuses a child wider than its parent, with the reason", async () => {
    const answer = await control("spawn work wide");
    expect(answer.ok).toBe(false);
    expect(String(answer.reason)).toMatch(/limits.memory_max: .* exceeds the parent's/);
    expect(vm.records.some((r) => r.event === "room.refused" && r.room === "work/wide")).toBe(true);
  });

  it("nests five levels deep, refuses a sixth, and a killed parent takes its children", async () => {
    expect((await control("start n5")).ok).toBe(true);
    let parent = "n5";
    for (const name of ["n4", "n3", "n2", "n1", "n0"]) {
      const answer = await control(`spawn ${parent} ${name}`);
      expect(answer.ok, String(answer.reason)).toBe(true);
      parent = `${parent}/${name}`;
    }
    // Each child's crun monitor runs in its parent's leaf cgroup, inside the parent's limits.
    const monitor = await vm.waitFor("room.started", 0, (r) => r.room === "n5/n4");
    vm.send("sh echo n5-leaf $(cat /sys/fs/cgroup/rooms/n5/room/cgroup.procs)");
    const leaf = await vm.waitFor("run.output", ROOM_MS, (r) => String(r.line).startsWith("n5-leaf "));
    expect(String(leaf.line).split(" ").slice(1)).toContain(String(monitor.pid));
    const tooDeep = await control(`spawn ${parent} n0`);
    expect(tooDeep.ok).toBe(false);
    expect(String(tooDeep.reason)).toMatch(/depth 6 is deeper than the maximum of 5/);
    expect((await control("kill n5")).ok).toBe(true);
    const killed = vm.records
      .filter((r) => r.event === "room.killed" && String(r.room).startsWith("n5"))
      .map((r) => r.room);
    expect(killed.sort()).toEqual(["n5", "n5/n4", "n5/n4/n3", "n5/n4/n3/n2", "n5/n4/n3/n2/n1", "n5/n4/n3/n2/n1/n0"]);
  });

  it("refuses a base image with one flipped byte (image.verity_failed); rooms on good images run", async () => {
    const failed = await vm.waitFor("image.verity_failed", 0, (r) => r.image === "corrupt");
    expect(String(failed.error)).toMatch(/does not match its pinned root hash/);
    expect(vm.records.some((r) => r.event === "image.mounted" && r.image === "corrupt")).toBe(false);
    const answer = await control("start tampered");
    expect(answer.ok).toBe(false);
    expect(String(answer.reason)).toMatch(/image 'corrupt' is not available/);
    expect(
      vm.records
        .filter((r) => r.event === "image.mounted")
        .map((r) => r.image)
        .sort(),
    ).toEqual(["minimal", "probe", "workshop"]);
    expect(vm.records.some((r) => r.event === "room.exited" && (r.room === "web" || r.room === "work"))).toBe(false);
  });

  it("gives the workshop root inside its own user namespace: it installs a package into its own layer, and nothing outside", async () => {
    expect((await control("start workshop-probe")).ok).toBe(true);
    await waitOutput("workshop-probe", /workshop-probe-done/);
    const lines = outputOf("workshop-probe");
    expect(lines).toContain("uid=0");
    expect(lines).toContain("uid_map=0 100000 65536");
    expect(lines).toContain("hello from the workshop");
    expect(lines).toEqual(
      expect.arrayContaining(["workshop-mount=refused", "workshop-sys=refused", "workshop-sees-own-pids"]),
    );
    expect((await control("reset workshop-probe")).ok).toBe(true);
    await vm.waitFor("room.reset", ROOM_MS, (r) => r.room === "workshop-probe");
  });

  it("gives a room with grants its umbilical: anchorctl status answers, an ungranted request is refused, a child has none", async () => {
    expect((await control("start umbilical")).ok).toBe(true);
    await waitOutput("umbilical", /^umbilical-done$/);
    const lines = outputOf("umbilical");
    expect(lines).toContain("own-socket=yes");
    expect(lines.find((l) => l.startsWith("other-sockets="))).toMatch(
      /^other-sockets=ls: \/run\/rooms: No such file or directory$/,
    );
    const status = JSON.parse(lines[0] ?? "{}") as { ok: boolean; room: string; limits: { pids_max: number } };
    expect(status).toMatchObject({
      ok: true,
      room: "umbilical",
      state: "running",
      limits: { memory_max: 256 * 1024 * 1024, pids_max: 256 },
    });
    expect(lines).toContain("status-exit=0");
    expect(lines).toContain(
      '{"ok":false,"error":{"code":"not_allowed","message":"this room\'s policy does not allow courier.send"}}',
    );
    expect(lines).toContain("send-exit=1");
    expect(lines).toContain('{"ok":true,"room":"umbilical/kid"}');
    expect(lines).toContain("spawn-exit=0");
    expect(lines.find((l) => l.includes('"code":"malformed"'))).toMatch(
      /"code":"malformed","message":"umbilical:umbilical:\d+:\d+/,
    );
    expect(lines).toContain("bad-spawn-exit=1");
    await vm.waitFor("room.output", ROOM_MS, (r) => r.room === "umbilical/kid" && r.line === "kid-umbilical=absent");
    const requests = vm.records
      .filter((r) => r.event === "umbilical.request" && r.room === "umbilical")
      .map((r) => [r.type, r.ok]);
    expect(requests).toEqual([
      ["room.status", true],
      ["room.spawn", true],
      ["room.spawn", false],
    ]);
    expect(vm.records.find((r) => r.event === "umbilical.refused" && r.room === "umbilical")).toMatchObject({
      code: "not_allowed",
    });
    // SO_PEERCRED: each anchorctl is a process the room forked after crun started it, so its pid is larger, and each later one larger still.
    const crun = Number((await vm.waitFor("room.started", 0, (r) => r.room === "umbilical")).pid);
    const pids = vm.records
      .filter((r) => r.room === "umbilical" && (r.event === "umbilical.request" || r.event === "umbilical.refused"))
      .map((r) => r.pid);
    expect(pids).toHaveLength(4);
    expect(pids.every((pid, i) => Number.isInteger(pid) && Number(pid) > (i === 0 ? crun : Number(pids[i - 1])))).toBe(
      true,
    );
  });

  it("answers a hostile room's oversized, malformed and flooding frames with refusals and closes on it; a fresh connection is served", async () => {
    expect((await control("start umbilical-abuse")).ok).toBe(true);
    await vm.waitFor("room.exited", ROOM_MS, (r) => r.room === "umbilical-abuse");
    const lines = outputOf("umbilical-abuse");
    expect(lines).toContain("oversized replies=1 last=oversized closed=yes");
    expect(lines).toContain("malformed replies=5 last=malformed closed=yes");
    expect(lines.find((l) => l.startsWith("flood "))).toMatch(/^flood replies=[5-9] last=rate_limited closed=yes$/);
    expect(lines).toContain("after replies=1 last=none closed=no");
    const codes = new Set(
      vm.records.filter((r) => r.event === "umbilical.refused" && r.room === "umbilical-abuse").map((r) => r.code),
    );
    expect([...codes].sort()).toEqual(["malformed", "oversized", "rate_limited"]);
  });

  it("survives 10^5 hostile frames, hostile policies among them: each answered or its connection closed, a slow-loris cut, the refusals' log bounded, a sibling served throughout", async () => {
    const errors = vm.records.filter((r) => r.event === "bay0.error").length;
    expect((await control("start umbilical-sibling")).ok).toBe(true);
    expect((await control("start umbilical-storm")).ok).toBe(true);
    const storm = await vm.waitFor(
      "room.output",
      600_000,
      (r) => r.room === "umbilical-storm" && String(r.line).startsWith("storm "),
    );
    expect(storm.line).toMatch(
      /^storm frames=1\d{5} connections=\d+ left_open=0 refused_dial=\d+ slowloris_closed=yes$/,
    );
    expect(Number(/frames=(\d+)/.exec(String(storm.line))?.[1])).toBeGreaterThanOrEqual(100_000);
    // bay0 still answers its own control line at once, and its sibling was served the whole time.
    expect((await vm.control("freeze nobody", 10_000)).ok).toBe(false);
    const sibling = await vm.waitFor(
      "room.output",
      120_000,
      (r) => r.room === "umbilical-sibling" && String(r.line).startsWith("sibling "),
    );
    expect(sibling.line).toMatch(/^sibling ok=120 failed=0$/);
    const refused = vm.records.filter((r) => r.event === "umbilical.refused" && r.room === "umbilical-storm");
    expect(refused.length).toBeLessThan(1000);
    expect(refused.some((r) => Number(r.unlogged) > 0)).toBe(true);
    expect(vm.records.filter((r) => r.event === "bay0.error").length).toBe(errors);
    // The policies reached bay0's parser (room.spawn is granted) and were refused as malformed, while the watchdog stayed fed.
    const spawns = vm.records.filter(
      (r) => r.event === "umbilical.request" && r.room === "umbilical-storm" && r.type === "room.spawn",
    );
    expect(spawns.filter((r) => r.code === "malformed").length).toBeGreaterThan(0);
    expect(vm.qmp.events.filter((e) => e.event === "WATCHDOG")).toEqual([]);
  });

  it("serves a room's umbilical again once its server, killed, is back: the room's socket directory is the new server's", async () => {
    expect((await control("start umbilical-again")).ok).toBe(true);
    await vm.waitFor("umbilical.request", ROOM_MS, (r) => r.room === "umbilical-again" && r.ok === true);
    // The server runs as a user of its own, without capabilities or groups: what the kernel says of the process.
    expect(await helperIds(vm, "umbilical", ROOM_MS)).toMatch(
      /^umbilical-ids Uid: 991 991 991 991 Gid: 991 991 991 991 Groups: ?CapEff: 0000000000000000 ?$/,
    );
    const killedAt = vm.records.length;
    expect((await control("umbilical-kill")).ok).toBe(true);
    const restarted = await vm.waitFor("umbilical.restarted", ROOM_MS, (r) => vm.records.indexOf(r) >= killedAt);
    expect(restarted.reason).toBe("SIGKILL");
    const back = vm.records.indexOf(restarted);
    // The same room, never restarted, asks the new server: bay0 gave it the room's directory again.
    await vm.waitFor(
      "umbilical.request",
      ROOM_MS,
      (r) => r.room === "umbilical-again" && r.ok === true && vm.records.indexOf(r) > back,
    );
    expect(vm.records.filter((r) => r.event === "room.started" && r.room === "umbilical-again")).toHaveLength(1);
    expect((await control("kill umbilical-again")).ok).toBe(true);
  });

  it("builds rooms in a root helper of its own; killed, the next one builds the next room and takes it away after", async () => {
    expect(await helperIds(vm, "builder", ROOM_MS)).toMatch(/^builder-ids Uid: 0 0 0 0 Gid: 0 0 0 0 /);
    const killedAt = vm.records.length;
    expect((await control("builder-kill")).ok).toBe(true);
    const restarted = await vm.waitFor("builder.restarted", ROOM_MS, (r) => vm.records.indexOf(r) >= killedAt);
    expect(restarted.reason).toBe("SIGKILL");
    expect((await control("start umbilical-again")).ok).toBe(true);
    await vm.waitFor("room.started", ROOM_MS, (r) => r.room === "umbilical-again" && vm.records.indexOf(r) > killedAt);
    // A room's end waits for the builder to take its root and cgroup away: nothing of it is left once kill answers.
    expect((await control("kill umbilical-again")).ok).toBe(true);
    vm.send(`sh echo "left $(ls /run/rooms /sys/fs/cgroup/rooms | tr '\\n' ' ')"`);
    const left = await vm.waitFor("run.output", ROOM_MS, (r) => String(r.line).startsWith("left "));
    expect(String(left.line)).toMatch(/ web /);
    expect(String(left.line)).not.toMatch(/umbilical-again/);
  });

  it("freezes and thaws a room", async () => {
    expect((await control("freeze web")).ok).toBe(true);
    await vm.waitFor("room.frozen", ROOM_MS, (r) => r.room === "web");
    expect((await control("thaw web")).ok).toBe(true);
    await vm.waitFor("room.thawed", ROOM_MS, (r) => r.room === "web");
  });
});
