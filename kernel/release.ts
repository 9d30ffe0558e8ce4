/**
 * The kernel release (`uname -r`) inside an x86 bzImage: the boot protocol
 * header holds, at 0x20E, the offset (minus 0x200) of a version string
 * such as "6.1.0-56-amd64 (debian-kernel@…) #1 SMP …".
 */
export function bzImageRelease(image: Uint8Array): string {
  if (image.length < 0x210 || String.fromCharCode(...image.slice(0x202, 0x206)) !== "HdrS") {
    throw new Error("not an x86 bzImage (no HdrS boot header)");
  }
  const offset = ((image[0x20e] ?? 0) | ((image[0x20f] ?? 0) << 8)) + 0x200;
  let end = offset;
  while (end < image.length && image[end] !== 0 && image[end] !== 0x20) end++;
  return new TextDecoder().decode(image.slice(offset, end));
}
