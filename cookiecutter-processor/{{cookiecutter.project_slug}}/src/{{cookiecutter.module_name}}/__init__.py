"""{{ cookiecutter.description }}.

The processor lives in :mod:`{{ cookiecutter.module_name }}.processor`; the entry point
``{{ cookiecutter.plugin_name }}`` (:mod:`{{ cookiecutter.module_name }}.plugin`) registers it.
Nothing heavy is imported here, so discovering the plugin stays cheap.
"""

__version__ = "{{ cookiecutter.version }}"
