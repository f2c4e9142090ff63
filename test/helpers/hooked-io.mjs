// An Io that delegates every call to a real one (NativeIo over io_uring or the thread pool) and
// lets a test step in: make one read short, fail one call, or count what was read. Proxies pass
// through everything the test does not hook, so the wrapper follows the Io interface as it grows.

/**
 * `io.stats.calls` lists every call in order: [method, path, …] (reads with offset and length).
 *
 * hooks:
 *   read({ path, lengthBytes, fileOffsetBytes, readOnly }) → undefined | { error } | { shortBytes }
 *     `shortBytes`: the read is really made in full, then reported as this many bytes.
 *   fsyncDir(dir) → undefined | Error          an Error is thrown instead of syncing
 *   openFile(path, options) → undefined | Error
 *   readSubmitted({ path, fileOffsetBytes, readOnly })   called once the real read is submitted
 *   write({ path, lengthBytes, fileOffsetBytes, durable }) → undefined | Promise | { hold } | { error }
 *     Called once the real write is submitted; the real write is always made. A promise (or
 *     `hold`) holds its completion back from the caller until it settles, so a test decides the
 *     order in which writes in flight complete. `error`: once the real write is done, the caller
 *     gets this error instead (a failed sync).
 *   writeCompleted(info)                                 called when the real write completes
 *   writeDone(info)                                      called as the completion reaches the caller
 */
export function hookedIo(inner, hooks = {}) {
  const stats = { bytesRead: 0, reads: 0, calls: [] };
  const wrapFile = (file, options) =>
    new Proxy(file, {
      get(target, prop) {
        if (prop === 'write' && (hooks.write !== undefined || hooks.writeCompleted !== undefined || hooks.writeDone !== undefined)) {
          return async (buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, durable) => {
            const info = { path: target.path, lengthBytes, fileOffsetBytes, durable };
            stats.calls.push(['write', target.path, fileOffsetBytes, lengthBytes]);
            /** @type {{ err: unknown }[]} */
            const failures = [];
            const pending = target.write(buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, durable).catch((err) => failures.push({ err }));
            const decision = hooks.write?.(info);
            const hold = typeof decision?.then === 'function' ? decision : decision?.hold;
            await pending;
            hooks.writeCompleted?.(info);
            try {
              if (hold !== undefined) await hold;
            } finally {
              hooks.writeDone?.(info);
            }
            if (failures.length > 0) throw failures[0].err;
            if (decision?.error !== undefined) throw decision.error;
          };
        }
        if (prop === 'read') {
          return async (buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes) => {
            const info = { path: target.path, lengthBytes, fileOffsetBytes, readOnly: options.readOnly };
            const decision = hooks.read?.(info);
            if (decision?.error !== undefined) throw decision.error;
            const pending = target.read(buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes);
            hooks.readSubmitted?.(info);
            const gotBytes = await pending;
            stats.calls.push(['read', target.path, fileOffsetBytes, lengthBytes]);
            stats.reads += 1;
            stats.bytesRead += gotBytes;
            return decision?.shortBytes !== undefined ? Math.min(decision.shortBytes, gotBytes) : gotBytes;
          };
        }
        const value = Reflect.get(target, prop);
        if (typeof value !== 'function') return value;
        return (...args) => {
          stats.calls.push([String(prop), target.path]);
          return value.apply(target, args);
        };
      },
    });
  const io = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'stats') return stats;
      if (prop === 'openFile') {
        return async (path, options) => {
          stats.calls.push(['openFile', path]);
          const refusal = hooks.openFile?.(path, options);
          if (refusal instanceof Error) throw refusal;
          return wrapFile(await target.openFile(path, options), options);
        };
      }
      if (prop === 'fsyncDir') {
        return async (dir) => {
          stats.calls.push(['fsyncDir', dir]);
          const refusal = hooks.fsyncDir?.(dir);
          if (refusal instanceof Error) throw refusal;
          return target.fsyncDir(dir);
        };
      }
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      return (...args) => {
        stats.calls.push([String(prop), ...args.filter((a) => typeof a === 'string')]);
        return value.apply(target, args);
      };
    },
  });
  return io;
}
