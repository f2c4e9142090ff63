{
  "targets": [
    {
      "target_name": "ringwal",
      "sources": [
        "native/rw_aead.c",
        "native/rw_crc32c.c",
        "native/rw_file.c",
        "native/rw_mem.c",
        "native/rw_napi.c",
        "native/rw_pool.c",
        "native/rw_ring.c",
        "native/rw_ring_setup.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      # The asserts on slot states and counts are the addon's invariant checks: keep them in release.
      "cflags!": ["-O3", "-DNDEBUG"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-UNDEBUG"]
    }
  ]
}
