// SMS segment counting: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67 per part) as carriers count them.

const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** {length, units, encoding, segments, perSegment, limit} for a reply body. */
export function segmentInfo(text) {
  const chars = Array.from(text);
  let septets = 0;
  let gsm = true;
  for (const ch of chars) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXTENDED.includes(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) {
    const segments = septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153);
    return {
      length: chars.length, units: septets, encoding: "GSM-7", segments,
      limit: segments <= 1 ? 160 : segments * 153,
    };
  }
  // UCS-2 counts UTF-16 code units (an emoji is two).
  const units = text.length;
  const segments = units <= 70 ? 1 : Math.ceil(units / 67);
  return { length: chars.length, units, encoding: "UCS-2", segments, limit: segments <= 1 ? 70 : segments * 67 };
}

/** "37/160 · 1 segment" */
export function counterText(text) {
  const info = segmentInfo(text);
  const n = Math.max(1, info.segments);
  return `${info.units}/${info.limit} · ${n} segment${n === 1 ? "" : "s"}`;
}
