import ArgumentParser
import PetalInference

/// `--tta` of `petal evaluate`, `petal predict` and `petal serve`.
protocol TestTimeAugmentationOption {
    var tta: String { get }
}

extension TestTimeAugmentationOption {
    var augmentation: TestTimeAugmentation { TestTimeAugmentation(rawValue: tta.lowercased()) ?? .none }

    /// Refuses an unknown name, and `--tta` with saved predictions (nothing is run to augment).
    func checkTTA(_ text: String, predictions: String? = nil) throws {
        guard let parsed = TestTimeAugmentation(rawValue: text.lowercased()) else {
            throw ValidationError("unknown --tta '\(text)': use one of \(TestTimeAugmentation.names)")
        }
        if parsed != .none, predictions != nil {
            throw ValidationError("--tta applies when a model runs, not to saved --predictions")
        }
    }
}

extension EvaluateCommand: TestTimeAugmentationOption {}
extension PredictCommand: TestTimeAugmentationOption {}
extension ServeCommand: TestTimeAugmentationOption {}
