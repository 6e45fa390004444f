// The tests run the ASL files exactly as the local runtime does.
export { answeredLocally, bindTasks, loadDefinition, noRetryWaits, noWaits } from '../../cli/local/local-sfn';
