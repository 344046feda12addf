/** Protocol version announced in WELCOME frames. */
export const VERSION_TAG = "thor-events/1";
