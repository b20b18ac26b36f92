import ArgumentParser

/// The `petal` command: train, evaluate and use image classifiers by transfer learning.
@main
struct Petal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "petal",
        abstract: "Train image classifiers by transfer learning from pretrained CNNs, on the CPU.",
        subcommands: [
            TrainCommand.self,
            PredictCommand.self,
            DataCommand.self,
            WeightsCommand.self,
            EvaluateCommand.self,
            ReportCommand.self,
            DoctorCommand.self,
            // Each stage adds its command here.
        ])
}
