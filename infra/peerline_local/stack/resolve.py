"""Stack resolution: read the template, take its parameters and conditions, resolve its intrinsic functions."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from peerline_local.stack.model import PARTITION, URL_SUFFIX, ResolvedResource, TemplateError


def load_template(path: Path) -> dict[str, Any]:
    """Read a CloudFormation/SAM template (YAML short tags or JSON) into plain data.

    Intrinsics come back in their long form: `!Ref X` as {"Ref": "X"}, `!GetAtt X.Arn` as
    {"Fn::GetAtt": ["X", "Arn"]}, `!Sub ...` as {"Fn::Sub": ...}.
    """
    # cfn-lint's decoder is the one `cfn-lint` itself lints with, so both read the template identically.
    from cfnlint.decode import decode

    template, problems = decode(str(path))
    if problems or template is None:
        details = "; ".join(str(problem) for problem in problems) or "empty template"
        raise TemplateError(f"{path}: cannot read the template: {details}")
    plain = _plain_data(template)
    if not isinstance(plain, dict):
        raise TemplateError(f"{path}: a template is a mapping at the top level")
    return plain




# ---------------------------------------------------------------------------------------------------- reading


def _plain_data(node: Any) -> Any:
    """cfn-lint's nodes carry line marks; the rest of the code (and json) wants plain dicts, lists and scalars."""
    if isinstance(node, Mapping):
        return {str(key): _plain_data(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain_data(item) for item in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _INTRINSIC_NAMES


_INTRINSIC_NAMES = frozenset(
    {
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::If",
        "Fn::Join",
        "Fn::Select",
        "Fn::Split",
        "Fn::FindInMap",
        "Fn::GetAZs",
        "Fn::Base64",
        "Fn::ImportValue",
        "Fn::ToJsonString",
        "Fn::Length",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
    }
)
_SUB_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def get_att_target(argument: Any) -> tuple[Any, Any]:
    """`Fn::GetAtt` comes as ["X", "Attr"] (YAML) or "X.Attr" (JSON); attribute names may hold dots themselves."""
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2:
        return argument[0], argument[1]
    return None, None


def referenced_ids(value: Any) -> Iterator[str]:
    """Every logical id a value refers to through Ref, Fn::GetAtt or Fn::Sub (before resolution)."""
    if isinstance(value, list):
        for item in value:
            yield from referenced_ids(item)
        return
    if not isinstance(value, dict):
        return
    if is_intrinsic(value):
        name, argument = next(iter(value.items()))
        if name == "Ref" and isinstance(argument, str):
            yield argument
            return
        if name == "Fn::GetAtt":
            logical_id, _ = get_att_target(argument)
            if isinstance(logical_id, str):
                yield logical_id
            return
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            for placeholder in _SUB_PLACEHOLDER.findall(text if isinstance(text, str) else ""):
                if not placeholder.startswith("!") and placeholder not in variables:
                    yield placeholder.split(".", 1)[0]
            yield from referenced_ids(variables)
            return
    for item in value.values():
        yield from referenced_ids(item)


# ---------------------------------------------------------------------------------------------------- parameters


def pseudo_parameters(stack_name: str, region: str, account_id: str) -> dict[str, Any]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{PARTITION}:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}",
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": URL_SUFFIX,
        "AWS::NotificationARNs": [],
    }


def parameter_values(template: dict[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Each declared parameter's value: the one given, else its Default; checked as CloudFormation would."""
    declared: dict[str, Any] = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"parameters not declared in the template: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in given:
            raw = str(given[name])
        elif "Default" in declaration:
            default = declaration["Default"]
            raw = ",".join(str(item) for item in default) if isinstance(default, list) else as_text(default)
        else:
            raise TemplateError(f"parameter {name} has no Default and no value was passed for it")
        values[name] = _checked_parameter(name, declaration, raw)
    return values


def _checked_parameter(name: str, declaration: dict[str, Any], raw: str) -> Any:
    parameter_type = str(declaration.get("Type", "String"))
    if parameter_type.startswith("AWS::SSM::Parameter"):
        raise TemplateError(f"parameter {name}: SSM parameter types are not supported by the local line")
    allowed = declaration.get("AllowedValues")
    if allowed is not None and raw not in {as_text(value) for value in allowed}:
        raise TemplateError(f"parameter {name}: {raw!r} is not one of its AllowedValues {allowed}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and parameter_type == "String" and not re.fullmatch(str(pattern), raw):
        raise TemplateError(f"parameter {name}: {raw!r} does not match its AllowedPattern {pattern}")
    if parameter_type == "Number":
        try:
            number = float(raw)
        except ValueError:
            raise TemplateError(f"parameter {name}: {raw!r} is not a number") from None
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            raise TemplateError(f"parameter {name}: {raw} is below its MinValue {declaration['MinValue']}")
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            raise TemplateError(f"parameter {name}: {raw} is above its MaxValue {declaration['MaxValue']}")
    if parameter_type == "CommaDelimitedList" or parameter_type.startswith("List<"):
        return [item.strip() for item in raw.split(",")] if raw else []
    return raw


def as_text(value: Any) -> str:
    """How CloudFormation turns a scalar into a string (booleans lower-case, as YAML wrote them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------------------------------- intrinsics


class _NoValue:
    """`Ref: AWS::NoValue`: the property (or list item) that holds it disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class Resolver:
    """Turns intrinsics into physical values, using the resources provisioned so far."""

    def __init__(
        self, template: dict[str, Any], *, parameter_values: dict[str, Any], pseudo_parameters: dict[str, Any]
    ) -> None:
        self.template = template
        self.parameter_values = parameter_values
        self.pseudo_parameters = pseudo_parameters
        self.resources: dict[str, ResolvedResource] = {}
        self._conditions: dict[str, bool] = {}
        self._conditions_in_progress: set[str] = set()

    # -- conditions

    def condition(self, name: str, where: str) -> bool:
        """The truth of a named condition of the template's Conditions section."""
        if name in self._conditions:
            return self._conditions[name]
        declared = self.template.get("Conditions") or {}
        if name not in declared:
            raise TemplateError(f"{where}: condition {name} is not declared in Conditions")
        if name in self._conditions_in_progress:
            raise TemplateError(f"{where}: condition {name} refers to itself")
        self._conditions_in_progress.add(name)
        truth = self._condition_expression(declared[name], f"Conditions.{name}")
        self._conditions_in_progress.discard(name)
        self._conditions[name] = truth
        return truth

    def resource_is_active(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false: CloudFormation does not create it."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(str(condition), f"Resources.{logical_id}.Condition")

    def _condition_expression(self, expression: Any, where: str) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError(f"{where}: not a condition expression: {expression!r}")
        name, argument = next(iter(expression.items()))
        if name == "Condition":
            return self.condition(str(argument), where)
        if name == "Fn::Equals":
            left, right = (self.resolve(item, where) for item in argument)
            return as_text(left) == as_text(right)
        if name == "Fn::Not":
            return not self._condition_expression(argument[0], where)
        if name == "Fn::And":
            return all(self._condition_expression(item, where) for item in argument)
        if name == "Fn::Or":
            return any(self._condition_expression(item, where) for item in argument)
        raise TemplateError(f"{where}: {name} is not a condition function")

    # -- values

    def resolve(self, value: Any, where: str) -> Any:
        """The value with every intrinsic replaced; `where` names the logical id and property for errors."""
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if is_intrinsic(value):
            name, argument = next(iter(value.items()))
            return self._intrinsic(name, argument, where)
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_text(self, value: Any, where: str) -> str:
        """Resolve a value that must end up a string (environment variables, outputs, names)."""
        return resolved_text(self.resolve(value, where), where)

    def _intrinsic(self, name: str, argument: Any, where: str) -> Any:
        handler = self._HANDLERS.get(name)
        if handler is None:
            raise TemplateError(f"{where}: {name} cannot be resolved locally")
        return handler(self, argument, where)

    def _ref(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, str):
            raise TemplateError(f"{where}: Ref needs a name, got {argument!r}")
        if argument == "AWS::NoValue":
            return NO_VALUE
        if argument in self.pseudo_parameters:
            return self.pseudo_parameters[argument]
        if argument in self.parameter_values:
            return self.parameter_values[argument]
        return self._resource(argument, where, "Ref").physical_id

    def _get_att(self, argument: Any, where: str) -> str:
        logical_id, attribute = get_att_target(argument)
        if isinstance(attribute, dict):
            attribute = self.resolve_text(attribute, where)
        if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
            raise TemplateError(f"{where}: Fn::GetAtt needs [LogicalId, Attribute], got {argument!r}")
        resource = self._resource(logical_id, where, f"Fn::GetAtt {logical_id}.{attribute}")
        if attribute not in resource.attributes:
            known = ", ".join(sorted(resource.attributes)) or "none"
            raise TemplateError(
                f"{where}: Fn::GetAtt {logical_id}.{attribute}: {resource.resource_type} {logical_id} has no "
                f"attribute {attribute} locally (known: {known})"
            )
        return resource.attributes[attribute]

    def _resource(self, logical_id: str, where: str, what: str) -> ResolvedResource:
        if logical_id in self.resources:
            return self.resources[logical_id]
        declared = self.template.get("Resources") or {}
        if logical_id not in declared:
            raise TemplateError(f"{where}: {what}: {logical_id} is not a parameter or resource of the template")
        if not self.resource_is_active(logical_id):
            raise TemplateError(f"{where}: {what}: {logical_id} is not created (its Condition is false)")
        raise TemplateError(f"{where}: {what}: {logical_id} is not provisioned yet (missing dependency)")

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], argument[1]
        else:
            raise TemplateError(f"{where}: Fn::Sub needs a string or [string, variables], got {argument!r}")
        values = {key: self.resolve_text(value, f"{where}.{key}") for key, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            placeholder = match.group(1)
            if placeholder.startswith("!"):  # ${!Literal} is written out as ${Literal}
                return "${" + placeholder[1:] + "}"
            if placeholder in values:
                return values[placeholder]
            if "." in placeholder and placeholder not in self.pseudo_parameters:
                return self._get_att(placeholder, where)
            return self.resolve_text({"Ref": placeholder}, where)

        return _SUB_PLACEHOLDER.sub(substitute, text)

    def _if(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError(f"{where}: Fn::If needs [Condition, ValueIfTrue, ValueIfFalse]")
        chosen = argument[1] if self.condition(str(argument[0]), where) else argument[2]
        return self.resolve(chosen, where)

    def _join(self, argument: Any, where: str) -> str:
        delimiter, items = argument
        resolved = self.resolve(items, where)
        if not isinstance(resolved, list):
            raise TemplateError(f"{where}: Fn::Join needs a list, got {resolved!r}")
        return str(delimiter).join(as_text(item) for item in resolved)

    def _select(self, argument: Any, where: str) -> Any:
        index, items = self.resolve(argument[0], where), self.resolve(argument[1], where)
        try:
            return items[int(index)]
        except (IndexError, TypeError, ValueError):
            raise TemplateError(f"{where}: Fn::Select index {index!r} is not in {items!r}") from None

    def _split(self, argument: Any, where: str) -> list[str]:
        delimiter, text = argument
        return self.resolve_text(text, where).split(str(delimiter))

    def _find_in_map(self, argument: Any, where: str) -> Any:
        map_name, top_key, second_key = (self.resolve_text(item, where) for item in argument[:3])
        try:
            return self.template["Mappings"][map_name][top_key][second_key]
        except KeyError:
            raise TemplateError(f"{where}: Fn::FindInMap: no {map_name}.{top_key}.{second_key} in Mappings") from None

    def _get_azs(self, argument: Any, where: str) -> list[str]:
        region = self.resolve(argument, where) or self.pseudo_parameters["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _base64(self, argument: Any, where: str) -> str:
        return base64.b64encode(self.resolve_text(argument, where).encode()).decode()

    def _to_json_string(self, argument: Any, where: str) -> str:
        return json.dumps(self.resolve(argument, where), separators=(",", ":"))

    def _length(self, argument: Any, where: str) -> int:
        return len(self.resolve(argument, where))

    def _import_value(self, argument: Any, where: str) -> Any:
        raise TemplateError(f"{where}: Fn::ImportValue needs another stack's exports, which the local line lacks")

    _HANDLERS: Mapping[str, Callable[[Resolver, Any, str], Any]] = {
        "Ref": _ref,
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::If": _if,
        "Fn::Join": _join,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::FindInMap": _find_in_map,
        "Fn::GetAZs": _get_azs,
        "Fn::Base64": _base64,
        "Fn::ToJsonString": _to_json_string,
        "Fn::Length": _length,
        "Fn::ImportValue": _import_value,
    }


def resolved_text(resolved: Any, where: str) -> str:
    """A resolved value as the string CloudFormation would make of it (lists of strings join with commas)."""
    if isinstance(resolved, list) and all(isinstance(item, str) for item in resolved):
        return ",".join(resolved)
    if isinstance(resolved, dict | list) or resolved is NO_VALUE or resolved is None:
        raise TemplateError(f"{where}: expected a string, got {resolved!r}")
    return as_text(resolved)


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
