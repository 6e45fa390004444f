import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { FleetOpsStack } from '../lib/fleetops-stack';
import { readSettings } from '../lib/settings';

const app = new App();
new FleetOpsStack(app, 'FleetOps', {
  settings: readSettings(app),
  // One deployment per account and region: the CLI's current credentials choose them.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'FleetOps: gray-scale changes and remediation for EC2 fleets',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
