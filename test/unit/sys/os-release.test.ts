import { describe, expect, it } from "vitest";
import { osReleaseField } from "../../../sys/os-release.ts";
import { osRelease } from "../../../uki/initramfs.ts";

describe("os-release", () => {
  it("gives the image's version from the os-release a build writes, quoted or not", () => {
    const text = osRelease("2.10.3");
    expect(osReleaseField(text, "IMAGE_VERSION")).toBe("2.10.3");
    expect(osReleaseField(text, "IMAGE_ID")).toBe("anchor");
    expect(osReleaseField(text, "PRETTY_NAME")).toBe("Anchor OS 2.10.3");
    // Neither a longer key nor a missing one is taken for it.
    expect(osReleaseField("VERSION_ID=1\nIMAGE_VERSIONS=9\n", "IMAGE_VERSION")).toBeNull();
  });
});
