/* media: placeholder. */
