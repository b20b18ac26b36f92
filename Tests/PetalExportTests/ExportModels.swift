import Foundation
import PetalCore
import PetalLayers
import PetalModels
import PetalTestSupport

/// Small models for the export tests: TinyModels with their batch norms given statistics as
/// trained ones have (so that folding them is exercised), optionally a hidden-layer head.
enum ExportModels {
    /// A saved model (random weights, seeded) and the classifier itself.
    static func model(in folder: URL, architecture: Architecture = .mobileNetV2(alpha: 0.35), inputSize: Int = 32,
                      hiddenUnits: [Int] = [], classes: [String] = ["daisy", "rose", "tulip"]) throws
        -> (url: URL, classifier: TransferClassifier) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent("model.safetensors")
        let classifier = try TransferClassifier(architecture: architecture, classNames: classes, inputSize: inputSize,
                                                head: HeadConfig(hiddenUnits: hiddenUnits, dropout: 0.2), base: .none,
                                                seed: 11)
        giveTrainedStatistics(classifier.network)
        try classifier.save(to: url)
        return (url, try TransferClassifier.load(from: url))
    }

    /// Batch norms with gamma, beta, moving mean and variance away from their initial 1, 0, 0, 1.
    static func giveTrainedStatistics(_ network: Network, seed: UInt64 = 3) {
        var random = SplitMix64(seed: seed)
        for case let bn as BatchNormalization in network.layers {
            for (parameter, low, high) in [(bn.gamma, 0.5, 1.5), (bn.beta, -0.3, 0.3), (bn.movingMean, -0.2, 0.2),
                                           (bn.movingVariance, 0.5, 2.0)] as [(Parameter, Float, Float)] {
                let values = parameter.value.floats
                for i in values.indices { values[i] = low + (high - low) * random.nextUnitFloat() }
                parameter.markUpdated()
            }
        }
    }
}
