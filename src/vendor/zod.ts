/**
 * zod, as every module of forklift imports it: bundled into one file by the build
 * (scripts/vendor.mjs), for the reason vendor/apache-arrow.ts gives (zod's 95 ES modules took
 * about 100 ms of `bundle verify`'s start, which reads datapackage.json with it).
 */
export { z } from 'zod';
