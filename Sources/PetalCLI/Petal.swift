import ArgumentParser
import Foundation
import PetalCore

/// The `petal` command: train, evaluate and use image classifiers by transfer learning.
@main
struct Petal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "petal",
        abstract: "Train image classifiers by transfer learning from pretrained CNNs, on the CPU.",
        version: "petal \(PetalVersion.string) (oneDNN \(DNNL.version), ISA \(DNNL.isa))",
        subcommands: [
            TrainCommand.self,
            PredictCommand.self,
            DataCommand.self,
            WeightsCommand.self,
            EvaluateCommand.self,
            ReportCommand.self,
            DoctorCommand.self,
            ServeCommand.self,
            LRFindCommand.self,
            // Each stage adds its command here.
        ])

    /// Runs the command the arguments name. Every error is one line on standard error,
    /// `petal <command>: <message>`, with exit status 64 for usage errors and 1 for failures
    /// (help and --version print as usual; an explicit exit code, e.g. 130 after Ctrl-C, stays).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            let usage = code == .validationFailure
            let message = usage ? Self.message(for: error) : describe(error)
            FileHandle.standardError.write(Data("\(commandName(arguments)): \(message)\n".utf8))
            Foundation.exit(usage ? ExitCode.validationFailure.rawValue : EXIT_FAILURE)
        }
    }

    /// "petal weights import" for the arguments `weights import ...`: the command path they name.
    static func commandName(_ arguments: [String]) -> String {
        var names = [configuration.commandName ?? "petal"]
        var current: ParsableCommand.Type = Petal.self
        for argument in arguments {
            guard let next = current.configuration.subcommands.first(where: {
                name(of: $0) == argument || $0.configuration.aliases.contains(argument)
            }) else { break }
            names.append(argument)
            current = next
        }
        return names.joined(separator: " ")
    }

    /// A command's name: its configured one, or its type's name in kebab case, as ArgumentParser derives it.
    static func name(of command: ParsableCommand.Type) -> String {
        if let name = command.configuration.commandName { return name }
        return String(describing: command).reduce(into: "") { name, character in
            if character.isUppercase, !name.isEmpty { name += "-" }
            name += character.lowercased()
        }
    }

    /// The error's own message: Petal's typed errors describe themselves (naming the file or
    /// option); Foundation's errors give their localized description.
    static func describe(_ error: Error) -> String {
        if let localized = error as? LocalizedError, let text = localized.errorDescription { return text }
        if type(of: error) is NSError.Type { return error.localizedDescription }
        return String(describing: error)
    }
}

/// Writing a file the user named, without replacing one Petal did not write.
enum OutputFile {
    /// Writes `data` atomically to `url`; an existing file is replaced only if `isPetals` says
    /// Petal wrote it.
    static func write(_ data: Data, to url: URL, replacingIf isPetals: (URL) -> Bool) throws {
        if FileManager.default.fileExists(atPath: url.path), !isPetals(url) {
            throw CommandError.outputExists(path: url.path)
        }
        try data.writeAtomically(to: url)
    }
}

/// Errors of the command line itself.
enum CommandError: Error, CustomStringConvertible, LocalizedError {
    case outputExists(path: String)

    var description: String {
        switch self {
        case let .outputExists(path):
            return "\(path) already exists and Petal did not write it; it is left alone: choose another output file"
        }
    }

    var errorDescription: String? { description }
}
