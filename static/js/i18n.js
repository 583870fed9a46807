// Translations and formats of the active language for page scripts. base.html loads Django's JavaScript catalogue
// (window.gettext, ngettext, interpolate) first; without it (a page that lacks it) the English text is used.
export const gettext = window.gettext || ((text) => text);
export const ngettext = window.ngettext || ((singular, plural, count) => (count === 1 ? singular : plural));
export function interpolate(format, values) {
  // Named placeholders only: "%(name)s" (as the Python side uses them).
  return format.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
}
export const LANGUAGE = document.documentElement.lang || "en";

// Emotion names as people read them (the model's class names stay the data's keys).
export const EMOTION_LABELS = {
  angry: gettext("angry"),
  disgust: gettext("disgust"),
  fear: gettext("fear"),
  happy: gettext("happy"),
  sad: gettext("sad"),
  surprise: gettext("surprise"),
  neutral: gettext("neutral"),
};
export const emotionLabel = (emotion) => EMOTION_LABELS[emotion] ?? emotion;

const percentFormat = new Intl.NumberFormat(LANGUAGE, { style: "percent", maximumFractionDigits: 0 });
export const percent = (share) => percentFormat.format(share);
export const number = (value, digits = 0) =>
  new Intl.NumberFormat(LANGUAGE, { maximumFractionDigits: digits }).format(value);
export const time = (date, seconds = false) =>
  new Intl.DateTimeFormat(LANGUAGE, { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) }).format(date);
