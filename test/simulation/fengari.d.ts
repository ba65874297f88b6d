/** fengari ships no types: the simulation describes the part it uses (see sim-redis.ts). */
declare module 'fengari';
