import { probeImage } from "../qemu/probe-image.ts";

/**
 * Builds the room tests' probe image once, before any integration file runs:
 * several files boot it, two at a time, and a rebuild while another VM has
 * it attached (with a fresh verity salt) would fail that VM's verification.
 */
export default function setup(): void {
  probeImage();
}
