const t0 = performance.now();
await import('@oclif/core'); const t1 = performance.now();
await import('/work/main/dist/src/bundle/verify.js'); const t2 = performance.now();
await import('zod'); const t3 = performance.now();
await import('apache-arrow'); const t4 = performance.now();
await import('better-sqlite3'); const t5 = performance.now();
await import('/work/main/dist/src/bundle/verify-data.js'); const t6 = performance.now();
console.log({ oclif: t1 - t0, verify: t2 - t1, zod: t3 - t2, arrow: t4 - t3, sqlite: t5 - t4, verifyData: t6 - t5 });
