import { describe, expect, it } from "vitest";
import { buildOptionsSchema } from "../../../uki/build-options.ts";
import { packageVersion } from "../../../uki/version.ts";

describe("npm run build's arguments", () => {
  it("builds package.json's version unless --version names another X.Y.Z", () => {
    const parse = (args: string[]) => buildOptionsSchema("/out").safeParse(args);
    expect(parse([]).data).toMatchObject({ version: packageVersion(), out: "/out", testHooks: false });
    expect(parse(["--version", "3.0.12", "--test-hooks"]).data).toMatchObject({ version: "3.0.12", testHooks: true });
    const refused = parse(["--version", "3.0"]);
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => i.message)).toEqual(["--version 3.0: a version is X.Y.Z"]);
    expect(parse(["--version"]).success).toBe(false);
  });
});
