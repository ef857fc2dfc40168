"""The platform's core: settings, the warehouse, PII, gold specs and the command line."""

from logistics.native import use_compiled_modules

use_compiled_modules()  # before any compiled module is imported: logistics.native says why
