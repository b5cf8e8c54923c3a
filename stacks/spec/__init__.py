"""The typed stack spec: what a stack file may say, validated before any resource is registered.

    from stacks.spec.parse import parse_spec, raw_from_config
    spec = parse_spec(raw_from_config())   # StackSpec, or ConfigError listing every problem

One module per config block (cluster, pools, registry, addons, models) holds that block's pydantic
models next to its rules; stack.py assembles StackSpec; rules.py lists every rule. Importing this
package registers nothing.
"""
