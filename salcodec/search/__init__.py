"""crf-search's parts: the secant search (:mod:`.secant`) and the sample scorer (:mod:`.scorer`)."""
