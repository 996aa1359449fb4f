/** ‖a − ref‖ / ‖ref‖ over two arrays of numbers: the device scripts' (.mjs, run without tsx) one copy. */
export function relativeError(a, ref) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}
