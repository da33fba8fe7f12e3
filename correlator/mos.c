/* mos: placeholder. */
