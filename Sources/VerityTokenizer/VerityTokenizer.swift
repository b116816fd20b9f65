// VerityTokenizer: placeholder so the package builds; replaced by the module's real sources.
