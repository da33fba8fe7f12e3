/* secmon: placeholder. */
