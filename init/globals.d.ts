/** Replaced at compile time by `bun build --define`; true only in test builds. */
declare const ANCHOR_TEST_HOOKS: boolean;
