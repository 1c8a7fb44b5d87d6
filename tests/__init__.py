"""A package, so same-named test files (app/ and browser/ test_portal.py) get distinct module names."""
