/* rtpstat: placeholder. */
