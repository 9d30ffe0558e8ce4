import { describe, expect, it } from "vitest";
import { undatedShadow } from "../../../uki/images.ts";

describe("undatedShadow", () => {
  it("empties each account's last-change day and keeps every other field", () => {
    const built = ["root:*:20790:0:99999:7:::", "_apt:!:20791::::::", "nobody:*:20790:0:99999:7:::", ""].join("\n");
    expect(undatedShadow(built)).toBe(
      ["root:*::0:99999:7:::", "_apt:!:::::::", "nobody:*::0:99999:7:::", ""].join("\n"),
    );
  });
});
