import ArgumentParser
import Foundation
import PetalCore
import PetalTraining

/// `petal doctor`: what a bug report needs and what a new user wonders first (a thin printer of
/// `Diagnostics`).
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine for Petal: versions, CPU and ISA, threads, libraries, weights, disk, memory.",
        discussion: """
        Paste its output into bug reports. Exits with 1 when something Petal needs is missing or \
        damaged (weights, the ImageNet class list), each named on a line starting with MISSING; \
        warnings (little disk or memory, no AVX2) do not change the exit status.
        """)

    @Flag(help: "Print the checks as JSON, for scripts.") var json = false

    func run() throws {
        let diagnostics = Diagnostics.collect()
        if json {
            print(String(decoding: try PetalJSON.encode(diagnostics), as: UTF8.self))
        } else {
            let width = diagnostics.items.map(\.name.count).max() ?? 0
            for item in diagnostics.items {
                let mark = item.status == .ok ? "" : "\(item.status.rawValue.uppercased()): "
                print("\(item.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(mark)\(item.value)")
                if let hint = item.hint { print(String(repeating: " ", count: width + 2) + "-> \(hint)") }
            }
            print("")
            if diagnostics.missing.isEmpty {
                print("Everything Petal needs is in place.")
            } else {
                print("\(diagnostics.missing.count) missing: \(diagnostics.missing.map(\.name).joined(separator: ", "))")
            }
        }
        if !diagnostics.missing.isEmpty { throw ExitCode(1) }
    }
}
