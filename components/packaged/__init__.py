"""Components packaged for other Pulumi languages (TypeScript, Go, C#, YAML) via the SDK's component
provider: `pulumi package add <path to this directory>` generates a local SDK from their schema.

Why wrappers: a component hosted by `component_provider_host` receives its args as a plain dict, and the
schema analyzer needs `pulumi.Input`/TypedDict-shaped args; the project's components take frozen
dataclasses (typed, validated, same-language use). The wrappers translate one into the other and add
nothing else, so there is still one implementation per component.
"""
