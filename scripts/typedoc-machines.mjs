// @ts-check
/**
 * A TypeDoc plugin (typedoc.json's `plugin`) for the XState machines in the API reference.
 *
 * `setup(...).createMachine(...)` infers the whole configuration (every state, transition, action, actor, guard)
 * into `StateMachine`'s type arguments. Printed in full, `negotiationMachine` and `poolMachine` took 240 KB and
 * 420 KB of HTML, and the `notDocumented` check asked a comment for each of their ~950 inferred properties
 * (`states.makingOffer.invoke.onDone`, ...), which no one can write. So every `StateMachine<...>` reference keeps
 * its named arguments (context, events, input, emitted, ...) and shows each inferred object argument as `…`: the
 * machine is documented by its comment, its named types and docs/negotiation.md and docs/pool.md.
 */
import {
  Converter,
  DeclarationReflection,
  IntrinsicType,
  makeRecursiveVisitor,
  ParameterReflection,
  SignatureReflection,
} from 'typedoc';

/**
 * @param {import('typedoc').SomeType} type
 * @returns {boolean} whether an inferred object type (a type literal) appears anywhere in `type`.
 */
function hasTypeLiteral(type) {
  let found = false;
  type.visit(
    makeRecursiveVisitor({
      reflection: () => {
        found = true;
      },
    }),
  );
  return found;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const { project } = context;
    /** @type {import('typedoc').ReferenceType[]} */
    const machines = [];
    const findMachines = makeRecursiveVisitor({
      reference: (type) => {
        if (type.package === 'xstate' && type.qualifiedName === 'StateMachine') machines.push(type);
      },
    });
    for (const reflection of Object.values(project.reflections)) {
      const typed =
        reflection instanceof DeclarationReflection ||
        reflection instanceof SignatureReflection ||
        reflection instanceof ParameterReflection;
      if (typed) reflection.type?.visit(findMachines);
    }
    for (const machine of machines) {
      if (!machine.typeArguments) continue;
      machine.typeArguments = machine.typeArguments.map((argument) => {
        if (!hasTypeLiteral(argument)) return argument;
        project.removeTypeReflections(argument);
        // Shown bare, as `string` would be (an UnknownType would be wrapped in parentheses).
        return new IntrinsicType('…');
      });
    }
  });
}
