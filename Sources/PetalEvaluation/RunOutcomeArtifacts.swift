import Foundation
import PetalTraining

/// Writes what the report reads from a finished run: the dataset summary, timings, test
/// predictions and metrics, then the report page itself.
public enum RunOutcomeArtifacts {
    @discardableResult
    public static func write(_ outcome: RunOutcome) throws -> EvaluationMetrics {
        let folder = RunFolder(outcome.folder)
        let counts = outcome.split.counts()
        let perClass = (0..<outcome.classNames.count).map { counts.train[$0] + counts.validation[$0] + counts.test[$0] }
        let summary = DatasetSummary(
            source: outcome.split.root.path, classNames: outcome.classNames, imagesPerClass: perClass,
            splits: .init(train: outcome.split.train.count, validation: outcome.split.validation.count,
                          test: outcome.split.test.count),
            skippedFiles: outcome.decodeFailures.map { .init(path: $0.path, reason: $0.reason) },
            ignoredNonImageCount: outcome.ignoredFiles)
        try folder.write(summary, to: .dataset)
        let timings = RunTimings(phases: outcome.phases.map {
            .init(name: $0.name, seconds: $0.seconds, imagesPerSecond: $0.imagesPerSecond, epochs: $0.epochs,
                  peakMemoryBytes: $0.peakMemoryBytes, peakMemoryPhaseOnly: $0.peakMemoryPhaseOnly)
        }, totalSeconds: outcome.totalSeconds)
        try folder.write(timings, to: .timings)
        let predictions = PredictionSet(classNames: outcome.classNames, files: outcome.testFiles,
                                        probabilities: outcome.test.probabilities)
        try folder.write(predictions, to: .predictions)
        let metrics = try predictions.metrics(topK: min(2, outcome.classNames.count))
        try folder.write(metrics, to: .metrics)
        try HTMLReport.write(runFolder: outcome.folder)
        return metrics
    }
}
