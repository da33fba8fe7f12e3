/* store: placeholder. */
