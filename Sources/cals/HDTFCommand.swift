import ArgumentParser
import Pipelines

/// `cals hdtf urls DATASET_DIR`
struct HDTFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hdtf",
        abstract: "Helpers for HDTF as released (HDTF_dataset/ of the HDTF repository).",
        subcommands: [URLs.self])

    struct URLs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "urls",
            abstract: "Print the URL of every video the <S>_video_url.txt files list, one per line (a batch file for yt-dlp -a).",
            discussion: """
                cals downloads nothing. Name each downloaded video by its video name (Radio11.webm) \
                or its YouTube id (yt-dlp -o '%(id)s.%(ext)s'), in any container, in the `videos` \
                folder of the manifest; `cals preprocess` writes the ones it did not find to \
                <out>/missing.txt.
                """)

        @Argument(help: "The folder with the annotation files (HDTF_dataset/).")
        var datasetDir: String

        func run() throws {
            for entry in try HDTFRelease.videoURLs(folder: datasetDir) { print(entry.url) }
        }
    }
}
