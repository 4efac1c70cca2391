"""The loadtests suite uses the lienthong pytest plugin, registered by the package's pytest11 entry point."""
