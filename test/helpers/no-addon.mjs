// Preloaded with --import: after this, loading any native addon (.node file) throws, as on a
// machine where ringwal's addon was never built. Counts the attempts for the test to check.
globalThis.__addonLoadAttempts = 0;
process.dlopen = () => {
  globalThis.__addonLoadAttempts += 1;
  throw new Error('no native addon on this machine (test/helpers/no-addon.mjs)');
};
