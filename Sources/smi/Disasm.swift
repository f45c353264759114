import ArgumentParser
import SMIEngine

/// `smi disasm`: the compiled bytecode, for reading.
struct Disasm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the compiled decision-tree bytecode of a policy.",
        discussion: """
            Every instruction is printed with the SMI resource it came from. Compile \
            warnings go to standard error; if the policy does not compile, the diagnostics do \
            and the exit status is 1.

            Examples:
              smi disasm --policy examples/policies/seed.yaml
              smi disasm --policy policies/ --full-path-match
            """
    )

    @OptionGroup
    var policy: PolicyArguments

    func run() throws {
        print(try policy.compile().disassembly(), terminator: "")
    }
}
